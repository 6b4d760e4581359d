package watchload_test

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/bench/internal/watchload"
)

// seed returns WATCHLOAD_SEED if set, else a fresh seed; it logs it.
func seed(tb testing.TB) uint64 {
	tb.Helper()
	s := uint64(time.Now().UnixNano())
	if env := os.Getenv("WATCHLOAD_SEED"); env != "" {
		v, err := strconv.ParseUint(env, 10, 64)
		require.NoError(tb, err)
		s = v
	}
	tb.Logf("seed %d (set WATCHLOAD_SEED to repeat)", s)
	return s
}

func TestHistogramEmpty(t *testing.T) {
	h := watchload.NewHistogram()
	require.Zero(t, h.Count())
	require.Zero(t, h.Max())
	require.Zero(t, h.Quantile(0.5))
}

func TestHistogramSmallValuesExact(t *testing.T) {
	h := watchload.NewHistogram()
	for v := range 10 {
		h.Record(v, time.Duration(v+1)) // 1..10ns, one bucket each
	}
	h.Record(0, -5) // counts as 0
	require.Equal(t, int64(11), h.Count())
	require.Equal(t, time.Duration(10), h.Max())
	require.Equal(t, time.Duration(0), h.Quantile(0.01))
	require.Equal(t, time.Duration(5), h.Quantile(0.5))
	require.Equal(t, time.Duration(10), h.Quantile(1))
}

// TestHistogramQuantilesRandomized checks quantiles of random log-uniform
// durations against the exact order statistics: within the bucket error.
func TestHistogramQuantilesRandomized(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 1))
	h := watchload.NewHistogram()
	vals := make([]time.Duration, 50000)
	for i := range vals {
		// log-uniform from 1µs to ~100s
		vals[i] = time.Duration(1000*(1<<rng.IntN(27))) + time.Duration(rng.IntN(1000))
		h.Record(i, vals[i])
	}
	slices.Sort(vals)
	require.Equal(t, int64(len(vals)), h.Count())
	require.Equal(t, vals[len(vals)-1], h.Max())
	for _, q := range []float64{0.01, 0.1, 0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals))+0.5)-1]
		got := h.Quantile(q)
		require.GreaterOrEqual(t, got, exact, "q=%v", q)
		require.LessOrEqual(t, float64(got), float64(exact)*(1+1.0/64)+1, "q=%v", q)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{name: "none", xs: nil, want: 0},
		{name: "one", xs: []float64{3}, want: 3},
		{name: "odd unsorted", xs: []float64{5, 1, 3}, want: 3},
		{name: "even", xs: []float64{4, 1, 2, 3}, want: 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.xs)
			require.InDelta(t, tt.want, watchload.Median(tt.xs), 1e-12)
			require.Equal(t, in, tt.xs, "input not modified")
		})
	}
}
