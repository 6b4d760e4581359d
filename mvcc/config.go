package mvcc

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"
)

const (
	defaultCommitInterval  = 100 * time.Millisecond
	defaultCommitLimit     = 10000
	defaultInitialMmapSize = 256 << 20

	defaultCompactBatchLimit     = 1000
	defaultCompactBatchInterval  = 10 * time.Millisecond
	defaultWatchProgressInterval = 10 * time.Minute
	defaultWatchSyncInterval     = 100 * time.Millisecond
	defaultWatchBatchMaxRevs     = 1000
)

// Config configures a Store. The zero value is a valid configuration: every
// zero field means its default.
type Config struct {
	// Logger receives the store's log records; nil discards them.
	Logger *slog.Logger
	// CommitInterval is how often pending changes are committed to bbolt
	// (with fsync) by the background committer. 0 means 100ms.
	CommitInterval time.Duration
	// CommitLimit makes [TxnWrite.End] commit synchronously (back-pressure)
	// as soon as this many changes are pending. 0 means 10,000.
	CommitLimit int
	// InitialMmapSize is bbolt's InitialMmapSize in bytes. A database
	// growing past it has to remap, which waits for open read transactions
	// (including open Snapshots). 0 means 256 MiB.
	InitialMmapSize int

	// CompactBatchLimit bounds the records the background physical
	// compaction deletes per bbolt transaction. 0 means 1,000.
	CompactBatchLimit int
	// CompactBatchInterval is the pause between two physical compaction
	// batches, so that writes and commits are not stalled. 0 means 10ms.
	CompactBatchInterval time.Duration

	// WatchProgressInterval is how often a synced watcher created with
	// WatchOptions.ProgressNotify receives a progress response. 0 means
	// 10 minutes (etcd's default).
	WatchProgressInterval time.Duration
	// WatchSyncInterval is how often unsynced watchers (behind, or whose
	// sink was full) are retried when nothing else wakes the catch-up
	// goroutine. 0 means 100ms.
	WatchSyncInterval time.Duration
	// WatchBatchMaxRevs bounds the revisions in one catch-up response
	// and in one history read of the catch-up goroutine. 0 means 1,000.
	WatchBatchMaxRevs int

	// ObserveCommit, if set, is called after every bbolt commit (the
	// committer's, physical compaction's) with how long the commit took:
	// writing the dirty pages and the fsyncs. It runs on the committing
	// goroutine while writers may wait for it: it must be fast and must not
	// call the Store.
	ObserveCommit func(time.Duration)

	// noSync skips fsync on bbolt commits. Tests only: it keeps I/O-heavy
	// randomized tests fast and does not change visibility or atomicity.
	noSync bool
	// defragChunkBytes overrides the bytes Defrag copies per chunk
	// (defragChunkBytes); tests only, to make small stores take several
	// chunks.
	defragChunkBytes int
}

// withDefaults returns cfg with zero fields replaced by defaults, or an error
// wrapping ErrInvalidConfig for negative values.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.CommitInterval < 0 || cfg.CommitLimit < 0 || cfg.InitialMmapSize < 0 ||
		cfg.CompactBatchLimit < 0 || cfg.CompactBatchInterval < 0 ||
		cfg.WatchProgressInterval < 0 || cfg.WatchSyncInterval < 0 || cfg.WatchBatchMaxRevs < 0 {
		return cfg, fmt.Errorf("%w: negative value", ErrInvalidConfig)
	}
	cfg.CompactBatchLimit = cmp.Or(cfg.CompactBatchLimit, defaultCompactBatchLimit)
	cfg.CompactBatchInterval = cmp.Or(cfg.CompactBatchInterval, defaultCompactBatchInterval)
	cfg.WatchProgressInterval = cmp.Or(cfg.WatchProgressInterval, defaultWatchProgressInterval)
	cfg.WatchSyncInterval = cmp.Or(cfg.WatchSyncInterval, defaultWatchSyncInterval)
	cfg.WatchBatchMaxRevs = cmp.Or(cfg.WatchBatchMaxRevs, defaultWatchBatchMaxRevs)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ObserveCommit == nil {
		cfg.ObserveCommit = func(time.Duration) {}
	}
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = defaultCommitInterval
	}
	if cfg.CommitLimit == 0 {
		cfg.CommitLimit = defaultCommitLimit
	}
	if cfg.InitialMmapSize == 0 {
		cfg.InitialMmapSize = defaultInitialMmapSize
	}
	return cfg, nil
}
