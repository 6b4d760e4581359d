// Package testhook carries controls from a running keel.Store to package
// keeltest, for the faults keeltest injects that Keel's public API does not
// offer: a crash that skips the leadership hand-over and drops what the
// member had not committed, as a killed process would.
//
// keel.Open binds a member's controls to the Hooks in its Config
// (Config.TestHooks). Only packages inside Keel's module can name this
// type, so no other caller can set that field or call these controls.
// A Hooks is safe for concurrent use.
package testhook

import (
	"errors"
	"sync"
)

// ErrUnbound is returned by a control no member has bound (the Hooks was
// never passed to keel.Open, or Open failed).
var ErrUnbound = errors.New("testhook: no member bound to these hooks")

// Hooks holds the controls of one member, bound by keel.Open.
type Hooks struct {
	mu    sync.Mutex
	crash func() error
}

// BindCrash records how to crash the member; keel.Open calls it.
func (h *Hooks) BindCrash(crash func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.crash = crash
}

// Crash stops the bound member as a killed process would stop: no
// leadership hand-over, uncommitted database changes dropped, the raft log
// closed without a final sync. Like Close, it is idempotent.
func (h *Hooks) Crash() error {
	h.mu.Lock()
	crash := h.crash
	h.mu.Unlock()
	if crash == nil {
		return ErrUnbound
	}
	return crash()
}
