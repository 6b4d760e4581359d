package watchload_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/bench/internal/watchload"
)

const testBuffer = 8

// startCluster starts a 3-member cluster with a small watch buffer,
// closed at cleanup.
func startCluster(tb testing.TB) *watchload.Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := watchload.StartCluster(ctx, watchload.ClusterConfig{
		Dir: tb.TempDir(), HeartbeatTimeout: 500 * time.Millisecond, WatchBufferSize: testBuffer,
	})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, c.Close()) })
	require.Len(tb, c.Members, 3)
	return c
}

// TestWorkloads runs every workload small on one cluster.
func TestWorkloads(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	clock := watchload.NewClock()

	t.Run("lag", func(t *testing.T) {
		for _, pl := range []watchload.Placement{watchload.PlaceSpread, watchload.PlaceFollower, watchload.PlaceLeader} {
			t.Run(string(pl), func(t *testing.T) {
				r, err := watchload.RunLag(ctx, c, clock, watchload.LagParams{
					Writers: 4, Puts: 200, Watchers: 5, Placement: pl, ValueBytes: 64,
					Prefix: "t/lag/" + string(pl) + "/", Timeout: time.Minute,
				})
				require.NoError(t, err)
				require.True(t, r.Complete)
				require.Equal(t, int64(1000), r.Expected)
				require.Equal(t, r.Expected, r.Delivered)
				require.Positive(t, r.P50)
				require.LessOrEqual(t, r.P50, r.P99)
				require.LessOrEqual(t, r.P99, r.Max)
				require.Positive(t, r.WritesPerSec)
				require.Positive(t, r.DeliveriesPerSec)
			})
		}
	})

	t.Run("idle memory", func(t *testing.T) {
		r, err := watchload.MeasureIdle(ctx, c.Members[0], "t/idle/", 500)
		require.NoError(t, err)
		require.Equal(t, 500, r.Watchers)
		// Every watcher holds at least its channel buffer.
		require.Greater(t, r.BytesPerWatcher, 100.0)
		require.Less(t, r.HeapReleased, r.HeapAfter, "canceling releases the watchers")
	})

	t.Run("slow consumer", func(t *testing.T) {
		r, err := watchload.RunSlow(ctx, c, clock, watchload.SlowParams{
			Writers: 4, Puts: 100, ValueBytes: 64, Rounds: 2, Placement: watchload.PlaceFollower,
			Prefix: "t/slow/", Timeout: time.Minute,
		})
		require.NoError(t, err)
		require.Len(t, r.Rounds, 2)
		for _, rd := range r.Rounds {
			// 100 puts, one event per response at most: the stalled
			// watcher's buffer fills up and stays full.
			require.Equal(t, testBuffer, rd.StalledBuffered)
			require.Positive(t, rd.WriteRatio)
			require.Positive(t, rd.DeliverRatio)
		}
		require.Positive(t, r.MedianWriteRatio)
	})
}

func TestInvalidParams(t *testing.T) {
	c := &watchload.Cluster{}
	ctx := context.Background()
	clock := watchload.NewClock()
	tests := []struct {
		name string
		run  func() error
	}{
		{name: "lag without watchers", run: func() error {
			_, err := watchload.RunLag(ctx, c, clock, watchload.LagParams{Writers: 1, Puts: 1, ValueBytes: 8, Timeout: time.Second})
			return err
		}},
		{name: "lag without members", run: func() error {
			_, err := watchload.RunLag(ctx, c, clock, watchload.LagParams{Writers: 1, Puts: 1, Watchers: 1, Placement: watchload.PlaceSpread, ValueBytes: 8, Timeout: time.Second})
			return err
		}},
		{name: "slow without rounds", run: func() error {
			_, err := watchload.RunSlow(ctx, c, clock, watchload.SlowParams{Writers: 1, Puts: 1, ValueBytes: 8})
			return err
		}},
		{name: "idle zero", run: func() error {
			_, err := watchload.MeasureIdle(ctx, nil, "x/", 0)
			return err
		}},
		{name: "unknown placement", run: func() error {
			_, err := watchload.ParsePlacement("everywhere")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.run(), watchload.ErrInvalidParams)
		})
	}
}
