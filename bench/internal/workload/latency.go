package workload

import (
	"slices"
	"time"
)

// Stats summarises one timed StoreLogs loop.
type Stats struct {
	// Calls is the number of StoreLogs calls timed.
	Calls int `json:"calls"`
	// Entries is the number of entries those calls stored.
	Entries int `json:"entries"`
	// Elapsed is the wall time of the whole loop.
	Elapsed time.Duration `json:"elapsed_ns"`
	// OpsPerSec is Entries divided by Elapsed.
	OpsPerSec float64 `json:"ops_per_sec"`
	// P50, P99 and Max are per-call latencies (nearest-rank percentiles).
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of ds,
// or 0 if ds is empty. ds is sorted in place.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return percentileSorted(ds, p)
}

func percentileSorted(sorted []time.Duration, p float64) time.Duration {
	if p <= 0 {
		return sorted[0]
	}
	// Nearest rank: ceil(p/100 * n), 1-based.
	rank := int(p / 100 * float64(len(sorted)))
	if float64(rank) < p/100*float64(len(sorted)) {
		rank++
	}
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Summarize computes Stats from per-call latencies, the entries stored and
// the loop's wall time. lat is sorted in place.
func Summarize(lat []time.Duration, entries int, elapsed time.Duration) Stats {
	st := Stats{Calls: len(lat), Entries: entries, Elapsed: elapsed}
	if elapsed > 0 {
		st.OpsPerSec = float64(entries) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		st.P50 = percentileSorted(lat, 50)
		st.P99 = percentileSorted(lat, 99)
		st.Max = lat[len(lat)-1]
	}
	return st
}
