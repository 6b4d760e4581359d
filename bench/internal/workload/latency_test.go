package workload_test

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/bench/internal/workload"
)

func ms(ns ...int) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", ms(7), 99, 7 * time.Millisecond},
		{"p50 of odd count", ms(3, 1, 2), 50, 2 * time.Millisecond},
		{"p50 of even count is the lower middle", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p0 is the min", ms(hundred...), 0, 1 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, workload.Percentile(tt.in, tt.p))
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		lat     []time.Duration
		entries int
		elapsed time.Duration
		want    workload.Stats
	}{
		{
			name: "four calls of one entry", lat: ms(4, 1, 3, 2), entries: 4, elapsed: 10 * time.Millisecond,
			want: workload.Stats{Calls: 4, Entries: 4, Elapsed: 10 * time.Millisecond, OpsPerSec: 400,
				P50: 2 * time.Millisecond, P99: 4 * time.Millisecond, Max: 4 * time.Millisecond},
		},
		{
			name: "entries not calls count", lat: ms(1, 1), entries: 128, elapsed: time.Second,
			want: workload.Stats{Calls: 2, Entries: 128, Elapsed: time.Second, OpsPerSec: 128,
				P50: time.Millisecond, P99: time.Millisecond, Max: time.Millisecond},
		},
		{
			name: "zero elapsed gives zero rate", lat: nil, entries: 0, elapsed: 0,
			want: workload.Stats{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, workload.Summarize(tt.lat, tt.entries, tt.elapsed))
		})
	}
}

// FuzzPercentile checks that a percentile is always an element of the input
// and that it never decreases as p grows.
func FuzzPercentile(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0}, 50.0)
	f.Add([]byte{9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0}, 99.0)
	f.Add([]byte{}, 0.0)
	f.Fuzz(func(t *testing.T, raw []byte, p float64) {
		if p != p || p < 0 || p > 100 { // NaN or out of range
			return
		}
		var ds []time.Duration
		for len(raw) >= 8 {
			ds = append(ds, time.Duration(binary.LittleEndian.Uint64(raw)>>1))
			raw = raw[8:]
		}
		got := workload.Percentile(slices.Clone(ds), p)
		if len(ds) == 0 {
			require.Zero(t, got)
			return
		}
		require.Contains(t, ds, got)
		require.LessOrEqual(t, got, workload.Percentile(slices.Clone(ds), min(p+1, 100)))
	})
}
