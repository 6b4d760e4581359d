package watchload

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// subBuckets is the number of linear buckets per power of two; the
// relative error of a quantile is below 1/subBuckets.
const (
	subBits    = 6
	subBuckets = 1 << subBits
	numBuckets = (64 - subBits) * subBuckets
	numShards  = 16
)

// Histogram counts durations in log-linear buckets and keeps the exact
// maximum. Record is safe for concurrent use (atomic counters spread over
// shards); read quantiles after the recorders stopped. The zero value is
// not usable; use [NewHistogram].
type Histogram struct {
	shards []histShard
}

type histShard struct {
	counts [numBuckets]atomic.Int64
	n      atomic.Int64
	max    atomic.Int64
	_      [64]byte // keep shards' hot counters off each other's cache lines
}

// NewHistogram returns an empty Histogram.
func NewHistogram() *Histogram { return &Histogram{shards: make([]histShard, numShards)} }

// bucketOf maps v >= 0 to its bucket: values below subBuckets have one
// bucket each, then every power of two is split into subBuckets.
func bucketOf(v int64) int {
	if v < subBuckets {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - subBits - 1
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// bucketHigh returns the largest value in bucket i.
func bucketHigh(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	e := i/subBuckets - 1
	m := int64(i%subBuckets + subBuckets)
	return (m+1)<<e - 1
}

// Record adds one duration; hint picks the shard (any int, e.g. the
// recorder's index) to spread contention. Negative durations count as 0.
func (h *Histogram) Record(hint int, d time.Duration) {
	v := max(int64(d), 0)
	s := &h.shards[uint(hint)%numShards]
	s.counts[bucketOf(v)].Add(1)
	s.n.Add(1)
	for {
		m := s.max.Load()
		if v <= m || s.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns the number of recorded durations.
func (h *Histogram) Count() int64 {
	var n int64
	for i := range h.shards {
		n += h.shards[i].n.Load()
	}
	return n
}

// Max returns the largest recorded duration (exact), 0 when empty.
func (h *Histogram) Max() time.Duration {
	var m int64
	for i := range h.shards {
		m = max(m, h.shards[i].max.Load())
	}
	return time.Duration(m)
}

// Quantile returns the q-quantile (0 < q <= 1) as the upper bound of its
// bucket, capped at Max; 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total) + 0.5)
	rank = min(max(rank, 1), total)
	var seen int64
	for b := range numBuckets {
		for i := range h.shards {
			seen += h.shards[i].counts[b].Load()
		}
		if seen >= rank {
			return min(time.Duration(bucketHigh(b)), h.Max())
		}
	}
	return h.Max()
}
