package allocs

import (
	"math"
	"runtime"
)

// Bytes returns the bytes the whole process allocated while f ran.
func Bytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Least runs f runs times (at least once) and returns the least Bytes of
// a run. f must do the same work each time.
func Least(runs int, f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range max(runs, 1) {
		least = min(least, Bytes(f))
	}
	return least
}
