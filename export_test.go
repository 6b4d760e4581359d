package keel

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/raft"
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

// MarkRemoved takes the first step of removing member id on the leader s,
// alone: its record is marked removed (committed), as by a leader that
// failed before taking it out of raft's configuration. It holds the
// leader's change lock until release is closed, so that the autopilot
// cannot finish the removal before then.
func (s *Store) MarkRemoved(ctx context.Context, id uint64, release <-chan struct{}) error {
	if !s.waitReconfig(ctx) {
		return ErrChangeInProgress
	}
	conf, cs, err := s.memberState()
	if err == nil {
		v := findMember(members(conf, &cs), id)
		if v == nil {
			err = ErrMemberNotFound
		} else {
			r := memberRecord{id: v.ID, name: v.Name}
			if v.record != nil {
				r = *v.record
			}
			r.removed = true
			cs = cs.clone()
			cs.put(r)
			_, err = s.setRecords(ctx, cs)
		}
	}
	if err != nil {
		s.endReconfig()
		return err
	}
	go func() {
		<-release
		s.endReconfig()
	}()
	return nil
}

// ConfigServers returns the IDs of the servers in raft's latest
// configuration on s.
func (s *Store) ConfigServers() ([]string, error) {
	conf, _, err := s.memberState()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, srv := range conf.Servers {
		out = append(out, string(srv.ID))
	}
	return out, nil
}

// AppendLearner hands raft, on the leader s, a configuration change that
// adds learner id at addr, without waiting for it to commit (see
// ConfigServers for when it is appended).
func (s *Store) AppendLearner(id, addr string) {
	s.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, time.Second)
}

// LoseNextChangeReply makes the reply to the next membership change this
// leader makes ErrTimeout, as a reply lost on its way back: the caller
// retries a change that is already made.
func (s *Store) LoseNextChangeReply() { s.LoseNextChangeReplyThen(func() {}) }

// LoseNextChangeReplyThen is LoseNextChangeReply that runs then, on the
// leader, when it drops the reply: after the change, before the caller
// can retry it.
func (s *Store) LoseNextChangeReplyThen(then func()) { s.loseChangeReply.Store(&then) }

// ExpireLeasesNow makes the deadline of every lease this member tracks
// pass now, as after a partition longer than the leases' TTLs: on the
// leader they are all due at its next expiry check, on a follower once it
// leads.
func (s *Store) ExpireLeasesNow() {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	past := time.Now().Add(-time.Millisecond)
	for id := range s.leases.deadline {
		s.leases.deadline[id] = past
	}
}

// LeasesTracked returns how many leases this member tracks (granted and
// not yet revoked, as applied here).
func (s *Store) LeasesTracked() int {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	return len(s.leases.deadline)
}

// DBSpace returns the size of the member's database and the bytes of it
// in use (the rest is free pages that Defragment gives back).
func (s *Store) DBSpace() (size, inUse int64, err error) { return s.kv.SpaceUsage() }

// TimeEveryRequest makes the member time every request, not one in 8,
// for tests that count them exactly.
func (s *Store) TimeEveryRequest() { s.met.sampleMask = 0 }

// DivergeNextPut makes this member apply the next plain Put it applies
// with a different value than the other members apply: a divergent
// apply, as a bug or a bad disk would cause.
func (s *Store) DivergeNextPut() { s.fsm.divergeNextPut.Store(true) }

// SetStreamChunks makes the member's GetStream chunks start at firstKeys
// keys and hold at most maxKeys keys or maxBytes bytes (0 keeps a
// default), so that a test sees many chunks from a few keys. Call it
// before the streams it affects start.
func (s *Store) SetStreamChunks(firstKeys, maxKeys, maxBytes int) {
	s.streamChunks = chunkBounds{firstKeys: firstKeys, maxKeys: maxKeys, maxBytes: maxBytes}
}
