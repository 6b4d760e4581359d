package keel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/wal"
)

// healthInterval is how often the member checks its storage for a
// fail-stop condition.
const healthInterval = 200 * time.Millisecond

// healthLoop fail-stops the member when its storage has failed: the raft
// log after a failed write or fsync (wal never retries an fsync) or a
// failed read (failSafeLogs), or the key-value database after a failed
// commit. raft itself would only step down and keep running on a log it
// can no longer trust, so the member closes instead: calls return
// ErrStopped and the rest of the cluster carries on without it. Reopening
// the Dir recovers what was acknowledged.
func (s *Store) healthLoop() {
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if cause := s.storageErr(); cause != nil {
			s.log.Error("storage failed, stopping this member", "err", cause)
			go s.close(false) // Close waits for this loop, so not from it
			return
		}
	}
}

// termKey is the stable-store key raft keeps its current term under.
const termKey = "CurrentTerm"

// failSafeStable is the raft.StableStore Keel hands raft. raft panics (and
// so would take the embedding process down) when it cannot persist a new
// term. After the raft log has fail-stopped, this store instead reports
// success for that one write while keeping it in memory only; the member
// stops within healthInterval anyway. That is safe: every other write
// still fails, in particular the vote records raft persists before it
// grants or casts a vote, so an unpersisted term never carries a vote, and
// with a failed log the member can neither append nor acknowledge entries.
// On restart it resumes from the last term that did reach the disk.
type failSafeStable struct {
	*wal.WAL
	log *slog.Logger
}

var _ raft.StableStore = failSafeStable{}

func (f failSafeStable) SetUint64(key []byte, val uint64) error {
	err := f.WAL.SetUint64(key, val)
	if err != nil && string(key) == termKey && errors.Is(err, wal.ErrFailed) {
		f.log.Error("raft term not persisted: the raft log has failed; this member is stopping", "term", val, "err", err)
		return nil
	}
	return err
}

// failSafeLogs is the raft.LogStore Keel hands raft. raft panics (and so
// would take the embedding process down) when it cannot read an entry it
// is about to apply: an I/O error or a corrupt frame in the raft log, or,
// in tests, a power cut that failed the log's files under a running
// member. failSafeLogs instead records the error, which makes the member
// fail-stop within healthInterval (healthLoop), and ends that goroutine,
// raft's main loop, with runtime.Goexit rather than return the error to
// the panic. Goexit runs raft's deferred clean-up: a leader stops
// replicating, fails its in-flight writes with ErrLeadershipLost (their
// outcome unknown to the caller, as after any leader loss), and the
// cluster elects another leader. Until the member stops it neither
// votes nor appends, as a hung process would not; Shutdown then finds the
// loop gone and returns. raft applies entries on its main loop only
// (heartbeats, which the transport hands raft on its own goroutines,
// carry no commit index). Every other reader of the log (replication to
// a follower, a follower's consistency check) handles a read error
// itself, so it gets the error, and the member stops all the same.
type failSafeLogs struct {
	*wal.WAL
	s *Store
}

var _ raft.LogStore = failSafeLogs{}

// raftApplyLoop is the raft function that panics on a failed GetLog.
const raftApplyLoop = "github.com/hashicorp/raft.(*Raft).processLogs"

func (f failSafeLogs) GetLog(index uint64, l *raft.Log) error {
	err := f.WAL.GetLog(index, l)
	if err == nil || errors.Is(err, raft.ErrLogNotFound) {
		return err
	}
	err = fmt.Errorf("keel: read raft log entry %d: %w", index, err)
	if f.s.logReadErr.CompareAndSwap(nil, &err) {
		f.s.log.Error("raft log unreadable, stopping this member", "index", index, "err", err)
	}
	if calledFrom(raftApplyLoop) {
		runtime.Goexit()
	}
	return err
}

// newRaft starts raft on this member's storage. raft.NewRaft reads the
// last log entry, then every entry after the last snapshot looking for
// configuration changes, and panics on one of those it cannot read; it
// starts no goroutine before that scan, so newRaft turns that panic (and
// only that one, which failSafeLogs recorded) into Open's error. Either
// way the error is the read's, errors.Is-able.
func (s *Store) newRaft(rc *raft.Config, stable raft.StableStore) (r *raft.Raft, err error) {
	defer func() {
		p := recover()
		readErr := s.logReadErr.Load()
		switch {
		case p != nil && readErr == nil:
			panic(p)
		case p != nil || (err != nil && readErr != nil):
			r, err = nil, *readErr
		}
	}()
	return raft.NewRaft(rc, s.fsm, failSafeLogs{s.wal, s}, stable, s.snaps, snapshotSender{s.durable, s})
}

// awaitTransfer waits for a leadership transfer raft runs. raft answers
// the future from its main loop, within ElectionTimeout; a loop that a
// storage failure ended (failSafeLogs) never answers, so the wait also
// ends with ctx or when the member stops. The goroutine left waiting on
// such a future then ends only with the process.
func (s *Store) awaitTransfer(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-s.stop:
		return s.errStopped()
	}
}

// calledFrom reports whether the function named fn (as runtime.Frame
// names it) is on the calling goroutine's stack, within 32 frames.
func calledFrom(fn string) bool {
	var pcs [32]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs[:])])
	for {
		f, more := frames.Next()
		if f.Function == fn {
			return true
		}
		if !more {
			return false
		}
	}
}

// storageErr returns the failure of this member's raft log or key-value
// database, which makes the member stop (failstop.go), or nil.
func (s *Store) storageErr() error {
	if err := s.wal.Err(); err != nil {
		return err
	}
	if err := s.logReadErr.Load(); err != nil {
		return *err
	}
	return s.kv.Err()
}
