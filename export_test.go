package keel

import "testing"

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

// HoldReconfig makes the member's next membership change (on the leader)
// wait until release is closed, signalling entered once it holds the
// change lock; nil clears it.
func (s *Store) HoldReconfig(entered chan<- struct{}, release <-chan struct{}) {
	if release == nil {
		s.reconfigHook.Store(nil)
		return
	}
	f := func() {
		entered <- struct{}{}
		<-release
	}
	s.reconfigHook.Store(&f)
}

// DBSpace returns the size of the member's database and the bytes of it
// in use (the rest is free pages that Defragment gives back).
func (s *Store) DBSpace() (size, inUse int64, err error) { return s.kv.SpaceUsage() }
