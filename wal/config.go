package wal

import (
	"fmt"
	"log/slog"
	"time"
)

const (
	// DefaultSegmentSize is the preallocated size of a segment file when
	// Config.SegmentSize is zero.
	DefaultSegmentSize = 64 << 20

	// MinSegmentSize is the smallest accepted Config.SegmentSize.
	MinSegmentSize = 256

	// MaxEntrySize bounds the encoded size of one log entry (its Data and
	// Extensions plus a small fixed header). Decoding never allocates more.
	MaxEntrySize = 256 << 20

	// DefaultReadCacheBytes is Config.ReadCacheBytes when it is zero.
	DefaultReadCacheBytes = 1 << 20
)

// Config configures a WAL. The zero value is valid and means the defaults.
type Config struct {
	// SegmentSize is the preallocated size of each segment file in bytes;
	// 0 means DefaultSegmentSize (64 MiB). A batch larger than a segment gets
	// a segment of its own sized to fit. Tests use small values.
	SegmentSize int64

	// Logger receives recovery and fail-stop messages; nil discards them.
	Logger *slog.Logger

	// FS is the file-system seam; nil means the real OS file system.
	FS FS

	// DeferSync makes StoreLogs return once a batch is written to the
	// segment file (the page cache), before it is durable; a background
	// goroutine syncs written batches, one fsync covering every batch
	// written meanwhile (group commit), and Durable / WaitDurable report
	// progress. This breaks raft.LogStore's contract that StoreLogs returns
	// only durable entries: the owner must not let anything depend on an
	// entry being durable before Durable covers it (Keel holds back raft
	// acknowledgements, commit notices and applies; see the keel package).
	// DeleteRange, segment rotation and Close first make every written
	// entry durable. A failed background sync fail-stops the WAL.
	DeferSync bool

	// DeferWhen, with DeferSync, is asked by every StoreLogs: false makes
	// StoreLogs wait until the background sync made the batch durable, as
	// if DeferSync were off (the sync is still shared with every batch
	// written meanwhile); true, or a nil DeferWhen, returns at once. An owner
	// that gains nothing from returning early in some state (a raft
	// follower, whose acknowledgement waits for the sync anyway) saves its
	// own wait for durability elsewhere.
	DeferWhen func() bool

	// ReadCacheBytes bounds the newest entries of the newest segment kept
	// in memory (by encoded size), so GetLog serves recent entries (a
	// leader replicating what it just stored, a follower applying what it
	// just received) without a file read or an allocation for the entry's
	// data. The cache keeps the raft.Log values StoreLogs was given: their
	// Data and Extensions are the caller's, which must not modify them
	// after StoreLogs (raft does not), and GetLog's callers must treat
	// them as read-only (raft does). 0 means DefaultReadCacheBytes; a
	// negative value disables the cache.
	ReadCacheBytes int

	// ObserveSync, if set, is called after every fsync of a segment's
	// entries (not of the meta file or the directory) with how long it
	// took, for latency metrics. It runs on the syncing goroutine, which
	// holds back durability meanwhile: it must be fast and must not call
	// the WAL.
	ObserveSync func(time.Duration)

	// NoSync skips every fsync (of segments, the meta file and the
	// directory). UNSAFE: an OS crash or power loss can lose acknowledged
	// entries or leave the directory unrecoverable. Tests and benchmarks only.
	NoSync bool
}

func (c Config) withDefaults() (Config, error) {
	if c.SegmentSize == 0 {
		c.SegmentSize = DefaultSegmentSize
	}
	if c.ReadCacheBytes == 0 {
		c.ReadCacheBytes = DefaultReadCacheBytes
	}
	if c.SegmentSize < MinSegmentSize {
		return c, fmt.Errorf("%w: SegmentSize %d is below %d", ErrInvalidConfig, c.SegmentSize, MinSegmentSize)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FS == nil {
		c.FS = OSFS{}
	}
	if c.ObserveSync == nil {
		c.ObserveSync = func(time.Duration) {}
	}
	return c, nil
}
