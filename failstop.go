package keel

import (
	"errors"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/wal"
)

// healthInterval is how often the member checks its storage for a
// fail-stop condition.
const healthInterval = 200 * time.Millisecond

// healthLoop fail-stops the member when its storage has failed: the raft
// log after a failed write or fsync (wal never retries an fsync), or the
// key-value database after a failed commit. raft itself would only step
// down and keep running on a log it can no longer trust, so the member
// closes instead: calls return ErrStopped and the rest of the cluster
// carries on without it. Reopening the Dir recovers what was acknowledged.
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

// storageErr returns the failure of this member's raft log or key-value
// database, which makes the member stop (failstop.go), or nil.
func (s *Store) storageErr() error {
	if err := s.wal.Err(); err != nil {
		return err
	}
	return s.kv.Err()
}
