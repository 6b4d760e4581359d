package bench_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/keeldb/keel/bench/internal/logstore"
	"github.com/keeldb/keel/bench/internal/workload"
)

// Flags for the go test -bench entry point; pass after -args, e.g.
// go test -bench . -run '^$' -args -bench.burst=300000 -bench.stores=keel-wal,raft-wal
var (
	burstFlag  = flag.Int("bench.burst", 100000, "entries appended before the head truncation in BenchmarkStoreLogsAfterTruncate")
	keepFlag   = flag.Uint64("bench.keep", 10000, "entries kept by the head truncation")
	storesFlag = flag.String("bench.stores", "", "comma-separated stores (default: every on-disk store)")
)

const entryBytes = 256

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func factories(tb testing.TB) []logstore.Factory {
	tb.Helper()
	if *storesFlag == "" {
		return logstore.Default()
	}
	fs, err := logstore.Lookup(*storesFlag)
	require.NoError(tb, err)
	return fs
}

// openStore opens f in a fresh temporary directory, closed at cleanup.
func openStore(tb testing.TB, f logstore.Factory) logstore.Store {
	tb.Helper()
	s, err := f.Open(tb.TempDir())
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

// appendLoop measures b.N StoreLogs calls of batch entries each, continuing
// g's log, and reports entries/s and per-call p50/p99. Entry generation is
// excluded from the timing.
func appendLoop(b *testing.B, s logstore.Store, g *workload.Gen, batch int) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		logs := g.Batch(batch)
		b.StartTimer()
		start := time.Now()
		if err := s.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	st := workload.Summarize(lat, b.N*batch, b.Elapsed())
	b.ReportMetric(st.OpsPerSec, "entries/s")
	b.ReportMetric(float64(st.P50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(st.P99.Nanoseconds()), "p99-ns")
}

// BenchmarkStoreLogs measures StoreLogs of 256-byte entries at batch sizes 1
// and 64 on a fresh store per store and batch size, fsync on.
func BenchmarkStoreLogs(b *testing.B) {
	for _, f := range factories(b) {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("store=%s/batch=%d", f.Name, batch), func(b *testing.B) {
				s := openStore(b, f)
				g, err := workload.NewGen(1, 1, entryBytes)
				require.NoError(b, err)
				appendLoop(b, s, g, batch)
			})
		}
	}
}

// BenchmarkStoreLogsAfterTruncate measures batch-1 StoreLogs after a burst
// of -bench.burst entries and DeleteRange(first, last-keep). The burst and
// truncation run once per store, before and outside the sub-benchmark (which
// testing re-runs with growing b.N on the same store); the DeleteRange time
// is reported as a metric.
func BenchmarkStoreLogsAfterTruncate(b *testing.B) {
	for _, f := range factories(b) {
		s, err := f.Open(b.TempDir())
		require.NoError(b, err)
		g, err := workload.NewGen(1, 1, entryBytes)
		require.NoError(b, err)
		_, err = workload.Burst(s, g, *burstFlag, 64)
		require.NoError(b, err)
		ts, err := workload.TruncateHead(s, *keepFlag)
		require.NoError(b, err)
		b.Run("store="+f.Name, func(b *testing.B) {
			appendLoop(b, s, g, 1)
			b.ReportMetric(float64(ts.Elapsed.Nanoseconds()), "deleterange-ns")
		})
		require.NoError(b, s.Close())
	}
}

// TestBenchmarksSmoke runs each benchmark body briefly so "go test" alone
// proves they work.
func TestBenchmarksSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("touches disk with fsync")
	}
	for _, f := range factories(t) {
		t.Run(f.Name, func(t *testing.T) {
			res := testing.Benchmark(func(b *testing.B) {
				s := openStore(b, f)
				g, err := workload.NewGen(1, 1, entryBytes)
				require.NoError(b, err)
				_, err = workload.Burst(s, g, 500, 64)
				require.NoError(b, err)
				_, err = workload.TruncateHead(s, 100)
				require.NoError(b, err)
				appendLoop(b, s, g, 1)
			})
			require.Positive(t, res.N)
			require.Positive(t, res.Extra["entries/s"])
			require.LessOrEqual(t, res.Extra["p50-ns"], res.Extra["p99-ns"])
		})
	}
}
