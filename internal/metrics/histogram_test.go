package metrics

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramBuckets(t *testing.T) {
	bounds := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	tests := []struct {
		name    string
		obs     []time.Duration
		buckets []uint64 // cumulative
		count   uint64
		sum     time.Duration
	}{
		{name: "empty", buckets: []uint64{0, 0, 0}},
		{name: "on a bound counts in that bucket", obs: []time.Duration{time.Millisecond, 2 * time.Millisecond},
			buckets: []uint64{1, 2, 2}, count: 2, sum: 3 * time.Millisecond},
		{name: "just above a bound counts in the next", obs: []time.Duration{time.Millisecond + 1},
			buckets: []uint64{0, 1, 1}, count: 1, sum: time.Millisecond + 1},
		{name: "above the last bound counts only in Count", obs: []time.Duration{time.Second, 3 * time.Millisecond},
			buckets: []uint64{0, 0, 1}, count: 2, sum: time.Second + 3*time.Millisecond},
		{name: "zero and negative count as zero", obs: []time.Duration{0, -time.Second},
			buckets: []uint64{2, 2, 2}, count: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistogram(bounds)
			for _, d := range tc.obs {
				h.Observe(d)
			}
			s := h.Snapshot()
			require.Equal(t, bounds, s.Bounds)
			require.Equal(t, tc.buckets, s.Buckets)
			require.Equal(t, tc.count, s.Count)
			require.Equal(t, tc.sum, s.Sum)
		})
	}
}

func TestHistogramBadBoundsPanic(t *testing.T) {
	tests := []struct {
		name   string
		bounds []time.Duration
	}{
		{name: "none"},
		{name: "equal", bounds: []time.Duration{1, 1}},
		{name: "descending", bounds: []time.Duration{2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Panics(t, func() { NewHistogram(tc.bounds) })
		})
	}
}

func TestExponentialBounds(t *testing.T) {
	require.Equal(t, []time.Duration{100 * time.Microsecond, 200 * time.Microsecond, 400 * time.Microsecond},
		ExponentialBounds(100*time.Microsecond, 2, 3))
}

// TestConcurrentObserve checks that no observation is lost when many
// goroutines observe and snapshot at once (run it with -race).
func TestConcurrentObserve(t *testing.T) {
	h := NewHistogram(ExponentialBounds(time.Microsecond, 2, 10))
	var c Counter
	var g Gauge
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				h.Observe(time.Duration(w*each+i) * time.Microsecond / 10)
				c.Inc()
				g.Add(1)
				if i%100 == 0 {
					s := h.Snapshot()
					require.LessOrEqual(t, s.Buckets[len(s.Buckets)-1], s.Count)
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, uint64(workers*each), h.Snapshot().Count)
	require.Equal(t, uint64(workers*each), c.Load())
	require.Equal(t, int64(workers*each), g.Load())
	c.Add(5)
	g.Set(-3)
	require.Equal(t, uint64(workers*each+5), c.Load())
	require.Equal(t, int64(-3), g.Load())
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := NewHistogram(ExponentialBounds(100*time.Microsecond, 2, 17))
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(0)
		for pb.Next() {
			h.Observe(d)
			d = (d + 37*time.Microsecond) % time.Second
		}
	})
}

func TestHistogramObserveN(t *testing.T) {
	h := NewHistogram([]time.Duration{time.Millisecond, time.Second})
	h.ObserveN(2*time.Millisecond, 8)
	h.Observe(time.Microsecond)
	snap := h.Snapshot()
	require.Equal(t, uint64(9), snap.Count)
	require.Equal(t, 16*time.Millisecond+time.Microsecond, snap.Sum)
	require.Equal(t, []uint64{1, 9}, snap.Buckets)
}
