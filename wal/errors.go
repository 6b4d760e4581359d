package wal

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// Sentinel errors returned by the WAL. Check them with errors.Is.
var (
	// ErrNotFound is returned by GetLog for an index outside the log. It is
	// raft.ErrLogNotFound itself (identity), because raft compares with ==.
	ErrNotFound = raft.ErrLogNotFound

	// ErrCorrupt is returned by Open when the files in the directory are
	// damaged in a way that is not a torn tail: a CRC mismatch, an impossible
	// length or an index gap where a crash cannot have torn the log (in a
	// sealed segment, below the durable offset a commit frame records, or
	// not shaped like a torn write), a bad segment header or a bad meta
	// file. The wrapping *CorruptError names the file and
	// the byte offset. GetLog also returns it if a frame fails its CRC when it
	// is read back.
	ErrCorrupt = errors.New("wal: corrupt")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("wal: closed")

	// ErrFailed is returned by every method once a write, sync, rename or
	// other I/O on the write path has failed: the WAL is fail-stopped and must
	// be closed and reopened (recovery keeps every acknowledged batch). The
	// returned error also wraps the original cause. fsync is never retried.
	ErrFailed = errors.New("wal: failed (fail-stop after an I/O error)")

	// ErrOutOfOrder is returned by StoreLogs when the batch is not contiguous
	// with itself or with the log (the first index must be LastIndex()+1 when
	// the log is not empty), or contains index 0. Nothing is written.
	ErrOutOfOrder = errors.New("wal: log indexes are not contiguous")

	// ErrTooLarge is returned by StoreLogs when one entry's encoding exceeds
	// MaxEntrySize. Nothing is written.
	ErrTooLarge = errors.New("wal: entry too large")

	// ErrUnsupportedRange is returned by DeleteRange for a range that removes
	// neither a prefix nor a suffix of the log (a hole in the middle).
	ErrUnsupportedRange = errors.New("wal: delete range must cover the head or the tail of the log")

	// ErrInvalidConfig is returned by Open for an invalid Config.
	ErrInvalidConfig = errors.New("wal: invalid config")
)

// CorruptError describes where corruption was found. It matches ErrCorrupt
// with errors.Is.
type CorruptError struct {
	File   string // file name inside the WAL directory
	Offset int64  // byte offset of the damaged frame or field
	Reason string // what was wrong
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: corrupt: %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corruptf(file string, off int64, format string, args ...any) error {
	return &CorruptError{File: file, Offset: off, Reason: fmt.Sprintf(format, args...)}
}
