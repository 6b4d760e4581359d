package wal_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/wal"
)

// BenchmarkStoreLogs measures one StoreLogs call (one fsync) with 256-byte
// entries on the real file system, at batch sizes 1 and 64. ns/op is per
// batch; entries/s is reported too. Compare runs with benchstat.
func BenchmarkStoreLogs(b *testing.B) {
	for _, batch := range []int{1, 64} {
		for _, noSync := range []bool{false, true} {
			name := fmt.Sprintf("batch=%d", batch)
			if noSync {
				name += "/nosync"
			}
			b.Run(name, func(b *testing.B) {
				w, err := wal.Open(b.TempDir(), wal.Config{NoSync: noSync})
				require.NoError(b, err)
				defer w.Close()
				data := make([]byte, 256)
				logs := make([]*raft.Log, batch)
				next := uint64(1)
				fill := func() {
					for i := range logs {
						logs[i] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: data}
						next++
					}
				}
				fill()
				require.NoError(b, w.StoreLogs(logs)) // creates the first segment
				b.SetBytes(int64(batch * len(data)))
				b.ResetTimer()
				for range b.N {
					fill()
					if err := w.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkGetLog measures reading back a recent entry, from the read
// cache (default) and from the file (cache disabled).
func BenchmarkGetLog(b *testing.B) {
	for _, tc := range []struct {
		name  string
		cache int
	}{{"cache", 0}, {"file", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			w, err := wal.Open(b.TempDir(), wal.Config{NoSync: true, ReadCacheBytes: tc.cache})
			require.NoError(b, err)
			defer w.Close()
			for i := uint64(0); i < 100; i++ {
				require.NoError(b, w.StoreLogs(makeLogs(1+i*10, 10, 1)))
			}
			b.ResetTimer()
			var l raft.Log
			for i := range b.N {
				if err := w.GetLog(uint64(1+i%1000), &l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRotatingStoreLogs stores 64 KiB batches (64 entries of 1 KiB)
// with deferred sync into 64 MiB segments, so about one call in 1,023 starts a
// new segment, and reports the slowest call (max-ms) beside ns/op: the
// stall of a rotation. Run with -benchtime=3000x or more to see several.
func BenchmarkRotatingStoreLogs(b *testing.B) {
	w, err := wal.Open(b.TempDir(), wal.Config{DeferSync: true, SegmentSize: wal.DefaultSegmentSize})
	require.NoError(b, err)
	defer w.Close()
	data := make([]byte, 1<<10)
	logs := make([]*raft.Log, 64)
	next := uint64(1)
	var slowest time.Duration
	b.SetBytes(int64(len(logs) * len(data)))
	for range b.N {
		for i := range logs {
			logs[i] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: data}
			next++
		}
		start := time.Now()
		if err := w.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ms")
}
