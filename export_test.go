package keel

import (
	"context"
	"net"
	"testing"
	"time"
)

// Test-only exports for the external tests (package keel_test): the
// cluster tests run on package keeltest, which imports keel, so they
// cannot live in package keel. Each export is something a test checks
// that the public API does not show.

// RaftSnapshot makes raft snapshot the member's state now and compact its
// log down to Config.TrailingLogs entries, as it does on its own once
// Config.SnapshotThreshold entries accumulate.
func (s *Store) RaftSnapshot() error { return s.raft.Snapshot().Error() }

// FirstLogIndex returns the index of the first entry in the member's raft
// log (0 for an empty log): above 1 once a snapshot compacted the log.
func (s *Store) FirstLogIndex() (uint64, error) { return s.wal.FirstIndex() }

// RaftSnapshots returns how many raft snapshots the member keeps in its
// Dir: taken by itself or installed from a leader.
func (s *Store) RaftSnapshots() (int, error) {
	snaps, err := s.snaps.List()
	return len(snaps), err
}

// EventRecord is what a watcher saw of one event (see collect).
type EventRecord = eventRecord

// Collect reads n events from wch, checking the watch guarantees on the
// way (see collect).
func Collect(tb testing.TB, wch WatchChan, n int) []EventRecord { return collect(tb, wch, n) }

// Crash stops the member as a killed process would (no leadership
// hand-over; the database keeps only what it had committed).
func (s *Store) Crash() error { return s.crash() }

// TestNet is the fault-injecting network of testnet_test.go.
type TestNet struct{ n *testNet }

// NewTestNet returns a healthy network.
func NewTestNet() *TestNet { return &TestNet{n: newTestNet()} }

// Dialer returns the Config.Dial of the member at from.
func (t *TestNet) Dialer(from string) func(ctx context.Context, addr string) (net.Conn, error) {
	return t.n.dialer(from)
}

// Cut blocks traffic between a and b both ways.
func (t *TestNet) Cut(a, b string) { t.n.cut(a, b) }

// Lose drops traffic from a to b.
func (t *TestNet) Lose(a, b string) { t.n.lose(a, b) }

// Delay delays traffic from a to b by d.
func (t *TestNet) Delay(a, b string, d time.Duration) { t.n.delay(a, b, d) }

// Heal lifts every rule.
func (t *TestNet) Heal() { t.n.heal() }
