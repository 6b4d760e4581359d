package metrics

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Histogram counts durations into fixed buckets. Bucket i counts the
// observations d with bounds[i-1] < d <= bounds[i] (Prometheus's "le"
// buckets); a final bucket counts those above the last bound. Observe is
// lock-free. Make it with NewHistogram.
type Histogram struct {
	bounds []time.Duration // ascending upper bounds
	counts []atomic.Uint64 // len(bounds)+1, the last one unbounded
	sum    atomic.Int64    // nanoseconds
}

// NewHistogram returns a histogram with the given ascending upper bounds.
// It panics if bounds is empty or not strictly ascending: bounds are fixed
// by the program, so that is a programming error.
func NewHistogram(bounds []time.Duration) *Histogram {
	if len(bounds) == 0 {
		panic("metrics: a histogram needs at least one bound")
	}
	for i := 1; i < len(bounds); i++ {
		if bounds[i] <= bounds[i-1] {
			panic(fmt.Sprintf("metrics: histogram bounds not ascending at %d: %v", i, bounds))
		}
	}
	return &Histogram{bounds: append([]time.Duration(nil), bounds...), counts: make([]atomic.Uint64, len(bounds)+1)}
}

// ExponentialBounds returns n bounds: start, start*factor, ..., the
// bucket layout of every Keel latency histogram.
func ExponentialBounds(start time.Duration, factor float64, n int) []time.Duration {
	b := make([]time.Duration, n)
	for i := range b {
		b[i] = start
		start = time.Duration(float64(start) * factor)
	}
	return b
}

// Observe records one duration. A negative d counts as zero.
func (h *Histogram) Observe(d time.Duration) { h.ObserveN(d, 1) }

// ObserveN records n observations of d at once: for a sampled duration
// that stands for n events.
func (h *Histogram) ObserveN(d time.Duration, n uint64) {
	d = max(d, 0)
	// The first bound >= d, by binary search (sort.Search's closure
	// would cost more than the search).
	lo, hi := 0, len(h.bounds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h.bounds[m] < d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	h.counts[lo].Add(n)
	h.sum.Add(int64(d) * int64(n))
}

// HistogramSnapshot is a histogram's state at one moment.
type HistogramSnapshot struct {
	// Count is the number of observations, including those above the
	// last bound.
	Count uint64
	// Sum is the sum of the observed durations.
	Sum time.Duration
	// Bounds are the buckets' upper bounds, ascending, and Buckets the
	// cumulative counts: Buckets[i] observations were at most Bounds[i].
	Bounds  []time.Duration
	Buckets []uint64
}

// Snapshot returns the histogram's current state in a fresh snapshot.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Bounds: append([]time.Duration(nil), h.bounds...), Buckets: make([]uint64, len(h.bounds))}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		if i < len(s.Buckets) {
			s.Buckets[i] = cum
		}
	}
	s.Count = cum
	s.Sum = time.Duration(h.sum.Load())
	return s
}
