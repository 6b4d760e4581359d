package faultfs

import (
	"math/rand/v2"
	"path"
)

// Op names an operation that a Fault can target.
type Op int

// Operations that can be made to fail.
const (
	OpWrite   Op = iota + 1 // File.WriteAt
	OpSync                  // File.Sync
	OpSyncDir               // FS.SyncDir
	OpRename                // FS.Rename (matched against the new path)
	OpRemove                // FS.Remove
	OpOpen                  // FS.OpenFile
	OpRead                  // File.ReadAt
)

// String returns the operation's name.
func (o Op) String() string {
	switch o {
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	case OpSyncDir:
		return "syncdir"
	case OpRename:
		return "rename"
	case OpRemove:
		return "remove"
	case OpOpen:
		return "open"
	case OpRead:
		return "read"
	default:
		return "op?"
	}
}

// Fault is a rule that makes matching operations fail.
type Fault struct {
	Op Op // the operation to fail

	// Pattern, if not empty, is a path.Match pattern matched against the
	// base name of the file (for example "*.seg"); empty matches all.
	Pattern string

	// After is how many matching operations succeed before the first
	// failure (0 = the next one fails).
	After int

	// Times is how many operations fail; 0 means every one from then on.
	Times int

	// Err is the error returned (wrapped in a *fs.PathError), for example
	// syscall.ENOSPC or syscall.EIO. It must not be nil unless Crash is
	// set.
	Err error

	// Crash, if set, makes the rule crash the file system instead of
	// failing the operation: a power cut at the moment the operation
	// starts, under this model, with random choices seeded by Seed (see
	// CrashWith). The operation does not take effect and returns an error
	// wrapping ErrStaleHandle, as every handle opened before does from
	// then on: its caller belongs to the process that died. An OpSync
	// rule with TornPages is a crash in the middle of an fsync: of the
	// pages that Sync was making durable (and of every other file's
	// unsynced pages) a random subset persists. Such a rule usually has
	// Times 1.
	Crash Model
	Seed  uint64
}

type rule struct {
	Fault
	seen   int
	failed int
	rng    *rand.Rand // for Crash
}

// Inject adds a fault rule. Rules are checked in the order they were added;
// the first rule that fires decides the error (or crashes the FS).
func (f *FS) Inject(ft Fault) {
	if ft.Err == nil && ft.Crash == 0 {
		panic("faultfs: a Fault needs an Err or a Crash model")
	}
	if ft.Crash < 0 || ft.Crash > TornPages {
		panic("faultfs: unknown crash model")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &rule{Fault: ft}
	if ft.Crash != 0 {
		r.rng = newRand(ft.Seed)
	}
	f.faults = append(f.faults, r)
}

// ClearFaults removes every fault rule.
func (f *FS) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Count returns how many times op has been attempted (including failed
// attempts), for tests that assert, say, one Sync per batch.
func (f *FS) Count(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// check counts an attempt of op on name and returns the injected error, if
// a rule fires. A firing Crash rule crashes the FS first and makes the
// error ErrStaleHandle.
func (f *FS) check(op Op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[op]++
	base := path.Base(clean(name))
	var err error
	for _, r := range f.faults {
		if r.Op != op {
			continue
		}
		if r.Pattern != "" {
			if ok, _ := path.Match(r.Pattern, base); !ok {
				continue
			}
		}
		r.seen++
		if r.seen <= r.After || (r.Times > 0 && r.failed >= r.Times) || err != nil {
			continue
		}
		r.failed++
		err = r.Err
		if r.Crash != 0 {
			f.crashLocked(r.Crash, r.rng)
			err = ErrStaleHandle
		}
	}
	return err
}
