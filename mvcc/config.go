package mvcc

import (
	"fmt"
	"log/slog"
	"time"
)

const (
	defaultCommitInterval  = 100 * time.Millisecond
	defaultCommitLimit     = 10000
	defaultInitialMmapSize = 256 << 20
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

	// noSync skips fsync on bbolt commits. Tests only: it keeps I/O-heavy
	// randomized tests fast and does not change visibility or atomicity.
	noSync bool
}

// withDefaults returns cfg with zero fields replaced by defaults, or an error
// wrapping ErrInvalidConfig for negative values.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.CommitInterval < 0 || cfg.CommitLimit < 0 || cfg.InitialMmapSize < 0 {
		return cfg, fmt.Errorf("%w: negative CommitInterval, CommitLimit or InitialMmapSize", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
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
