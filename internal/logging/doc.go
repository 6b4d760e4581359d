// Package logging adapts a *slog.Logger to the hclog.Logger interface that
// hashicorp/raft requires, so Keel logs through exactly one logger: the one
// in keel.Config.
//
// # Caveats
//
// hclog levels map to slog levels as Trace→Debug-4, Debug→Debug, Info→Info,
// Warn→Warn, Error→Error. SetLevel adjusts a minimum level inside the adapter;
// it never changes the wrapped slog handler.
package logging
