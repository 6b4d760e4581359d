package keel

import (
	"errors"
	"log/slog"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/wal"
)

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
