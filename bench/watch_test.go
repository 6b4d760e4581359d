package bench_test

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/bench/internal/watchload"
)

// Flags for the watch benchmarks; pass after -args, e.g.
// go test -bench Watch -run '^$' -args -bench.watchers=1,100
var watchersFlag = flag.String("bench.watchers", "1,100,10000", "comma-separated watcher counts of BenchmarkWatchLag")

const (
	watchWriters    = 16
	watchValueBytes = 256
)

// watchCluster starts a 3-member cluster on loopback, closed at cleanup.
func watchCluster(tb testing.TB) *watchload.Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := watchload.StartCluster(ctx, watchload.ClusterConfig{Dir: tb.TempDir()})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, c.Close()) })
	return c
}

func watcherCounts(tb testing.TB) []int {
	tb.Helper()
	var out []int
	for f := range strings.SplitSeq(*watchersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(tb, err)
		out = append(out, n)
	}
	return out
}

// BenchmarkWatchLag: one op is one put by 16 concurrent writers, delivered
// to every watcher of the prefix. ns/op includes creating the watchers;
// the lag metrics are the point.
func BenchmarkWatchLag(b *testing.B) {
	c := watchCluster(b)
	clock := watchload.NewClock()
	cell := 0
	for _, pl := range []watchload.Placement{watchload.PlaceSpread, watchload.PlaceFollower} {
		for _, n := range watcherCounts(b) {
			b.Run(fmt.Sprintf("%s/watchers=%d", pl, n), func(b *testing.B) {
				cell++
				r, err := watchload.RunLag(context.Background(), c, clock, watchload.LagParams{
					Writers: watchWriters, Puts: b.N, Watchers: n, Placement: pl, ValueBytes: watchValueBytes,
					Prefix: fmt.Sprintf("bench/lag/%d/", cell), Timeout: 2 * time.Minute,
				})
				require.NoError(b, err)
				require.True(b, r.Complete, "delivered %d of %d", r.Delivered, r.Expected)
				b.ReportMetric(float64(r.P50.Nanoseconds()), "p50-ns")
				b.ReportMetric(float64(r.P99.Nanoseconds()), "p99-ns")
				b.ReportMetric(float64(r.Max.Nanoseconds()), "max-ns")
				b.ReportMetric(r.WritesPerSec, "writes/s")
				b.ReportMetric(r.DeliveriesPerSec, "deliveries/s")
			})
		}
	}
}

// BenchmarkWatchIdle: one op is one idle watcher on a follower.
func BenchmarkWatchIdle(b *testing.B) {
	c := watchCluster(b)
	r, err := watchload.MeasureIdle(context.Background(), c.Members[c.Follower()], "bench/idle/", b.N)
	require.NoError(b, err)
	b.ReportMetric(r.BytesPerWatcher, "heap-B/watcher")
	b.ReportMetric(r.GoroutinesPerWatcher, "goroutines/watcher")
}

// BenchmarkWatchSlowConsumer: one op is one put of the "without" run plus
// one of the "with" run; the ratios (with/without) are the point.
func BenchmarkWatchSlowConsumer(b *testing.B) {
	c := watchCluster(b)
	r, err := watchload.RunSlow(context.Background(), c, watchload.NewClock(), watchload.SlowParams{
		Writers: watchWriters, Puts: b.N, ValueBytes: watchValueBytes, Rounds: 1,
		Placement: watchload.PlaceLeader, Prefix: fmt.Sprintf("bench/slow/%d/", b.N), Timeout: 2 * time.Minute,
	})
	require.NoError(b, err)
	rd := r.Rounds[0]
	b.ReportMetric(rd.WritesPerSecWith, "writes/s")
	b.ReportMetric(rd.WriteRatio, "write-ratio")
	b.ReportMetric(rd.DeliverRatio, "deliver-ratio")
}
