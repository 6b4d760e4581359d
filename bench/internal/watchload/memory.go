package watchload

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/keeldb/keel"
)

// MemoryResult is the cost of idle watchers on one member.
type MemoryResult struct {
	Watchers int    `json:"watchers"`
	Member   string `json:"member"`
	// HeapBefore/HeapAfter are HeapAlloc after GC before creating the
	// watchers and while they exist; HeapReleased is after canceling them.
	HeapBefore   uint64 `json:"heap_before"`
	HeapAfter    uint64 `json:"heap_after"`
	HeapReleased uint64 `json:"heap_released"`
	// BytesPerWatcher is (HeapAfter-HeapBefore)/Watchers.
	BytesPerWatcher float64 `json:"bytes_per_watcher"`
	// Goroutines before, with the watchers, and after canceling them.
	GoroutinesBefore     int     `json:"goroutines_before"`
	GoroutinesAfter      int     `json:"goroutines_after"`
	GoroutinesReleased   int     `json:"goroutines_released"`
	GoroutinesPerWatcher float64 `json:"goroutines_per_watcher"`
}

// heapAfterGC returns HeapAlloc after two full collections (the second
// frees what the first's finalizers released).
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// MeasureIdle creates n watchers on member m's key prefix (no writes
// happen under it), measures the heap and goroutines they add, then
// cancels them and measures again (waiting up to 10s for the goroutine
// count to settle). The cluster should be otherwise idle.
func MeasureIdle(ctx context.Context, m *keel.Store, prefix string, n int) (MemoryResult, error) {
	if n <= 0 {
		return MemoryResult{}, fmt.Errorf("%w: %d watchers", ErrInvalidParams, n)
	}
	r := MemoryResult{Watchers: n, Member: m.ID()}
	r.GoroutinesBefore = runtime.NumGoroutine()
	r.HeapBefore = heapAfterGC()

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chans := make([]keel.WatchChan, n)
	for i := range chans {
		chans[i] = m.Watch(wctx, prefix, keel.WithPrefix())
	}
	r.HeapAfter = heapAfterGC()
	r.GoroutinesAfter = runtime.NumGoroutine()
	for _, ch := range chans {
		select {
		case resp, ok := <-ch:
			if !ok || resp.Canceled {
				return r, fmt.Errorf("%w: idle watcher ended: %v", ErrWatchCanceled, resp.Err())
			}
		default:
		}
	}
	runtime.KeepAlive(chans)
	r.BytesPerWatcher = (float64(r.HeapAfter) - float64(r.HeapBefore)) / float64(n)
	r.GoroutinesPerWatcher = float64(r.GoroutinesAfter-r.GoroutinesBefore) / float64(n)

	cancel()
	for _, ch := range chans {
		for range ch { // closed once the watcher is released
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > r.GoroutinesBefore && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.GoroutinesReleased = runtime.NumGoroutine()
	r.HeapReleased = heapAfterGC()
	return r, nil
}
