package wal_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// TestObserveSync checks that every fsync of written entries is reported,
// in the synchronous and the background (DeferSync) modes, and that NoSync
// reports none.
func TestObserveSync(t *testing.T) {
	tests := []struct {
		name      string
		cfg       wal.Config
		wantSyncs bool
	}{
		{name: "sync in StoreLogs", wantSyncs: true},
		{name: "background sync", cfg: wal.Config{DeferSync: true}, wantSyncs: true},
		{name: "no sync", cfg: wal.Config{NoSync: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var syncs atomic.Int64
			cfg := tc.cfg
			cfg.FS = faultfs.New()
			cfg.SegmentSize = 1 << 20
			cfg.ObserveSync = func(d time.Duration) {
				require.GreaterOrEqual(t, d, time.Duration(0))
				syncs.Add(1)
			}
			w, err := wal.Open(memDir, cfg)
			require.NoError(t, err)
			defer func() { require.NoError(t, w.Close()) }()
			const batches = 5
			for i := range batches {
				require.NoError(t, w.StoreLogs(makeLogs(uint64(i)+1, 1, 1)))
				require.NoError(t, w.WaitDurable(context.Background(), uint64(i)+1))
			}
			// Each batch is written after the previous one is durable,
			// so the background sync cannot cover two of them at once.
			want := int64(0)
			if tc.wantSyncs {
				want = batches
			}
			require.Equal(t, want, syncs.Load())
		})
	}
}
