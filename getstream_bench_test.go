package keel_test

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeldb/keel"
)

// BenchmarkGetStreamMemory reads every key of a store with Get and with
// GetStream (consuming the chunks as they come) and reports, besides
// ns/op, how much the heap grew over what the store itself holds:
//
//   - peak-heap-MiB: the most heap the read's objects took, garbage not
//     yet collected included (so it depends on GOGC);
//   - peak-live-MiB: the most the heap kept after a collection, with a
//     last collection while the reader still holds what it read: the
//     memory the read itself pins (a collection that runs while the
//     read allocates counts what it allocated meanwhile as live);
//   - store-live-MiB: the live heap before the read, the store's own.
//
// It loads KEEL_BENCH_STREAM_KEYS keys (default 1,000,000) of 100-byte
// values first, so it is skipped with -short; for a quick run, set the
// variable to 10000. Run it with -benchtime=1x: one read is the point.
func BenchmarkGetStreamMemory(b *testing.B) {
	if testing.Short() {
		b.Skip("loads a million keys")
	}
	n := 1_000_000
	if v := os.Getenv("KEEL_BENCH_STREAM_KEYS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("KEEL_BENCH_STREAM_KEYS=%q: want a positive number", v)
		}
	}
	s, err := keel.Open(keel.Config{Dir: b.TempDir(), MaxTxnOps: 10000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	loadBenchKeys(b, s, n)

	reads := []struct {
		name string
		read func(b *testing.B) (keys int, hold any)
	}{
		{"Get", func(b *testing.B) (int, any) {
			resp, err := s.Get(b.Context(), "key/", keel.WithPrefix())
			if err != nil {
				b.Fatal(err)
			}
			return len(resp.Kvs), resp
		}},
		{"GetStream", func(b *testing.B) (int, any) {
			ch, err := s.GetStream(b.Context(), "key/", keel.WithPrefix())
			if err != nil {
				b.Fatal(err)
			}
			keys := 0
			for r := range ch {
				if err := r.Err(); err != nil {
					b.Fatal(err)
				}
				keys += len(r.Kvs)
			}
			return keys, nil
		}},
	}
	for _, rd := range reads {
		b.Run(fmt.Sprintf("keys=%d/%s", n, rd.name), func(b *testing.B) {
			var peakHeap, peakLive, baseLive uint64
			for range b.N {
				b.StopTimer()
				runtime.GC()
				base := readHeap()
				hs := startHeapSampler()
				b.StartTimer()
				keys, hold := rd.read(b)
				b.StopTimer()
				runtime.GC() // while hold still pins what Get returned
				hs.sample()
				heap, live := hs.stop()
				runtime.KeepAlive(hold)
				if keys != n {
					b.Fatalf("read %d keys, want %d", keys, n)
				}
				peakHeap = max(peakHeap, heap-min(heap, base.objects))
				peakLive = max(peakLive, live-min(live, base.live))
				baseLive = max(baseLive, base.live)
				b.StartTimer()
			}
			b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(peakLive)/(1<<20), "peak-live-MiB")
			b.ReportMetric(float64(baseLive)/(1<<20), "store-live-MiB")
		})
	}
}

// loadBenchKeys puts key/0000000 .. with 100-byte values, 10000 per txn.
func loadBenchKeys(b *testing.B, s *keel.Store, n int) {
	val := strings.Repeat("v", 100)
	for i := 0; i < n; i += 10000 {
		ops := make([]keel.Op, 0, 10000)
		for j := i; j < min(i+10000, n); j++ {
			ops = append(ops, keel.OpPut(fmt.Sprintf("key/%07d", j), val))
		}
		if _, err := s.Txn(b.Context()).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// heapSample is the heap's objects (live and not yet swept) and its live
// bytes as of the last collection.
type heapSample struct{ objects, live uint64 }

var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes"}

func readHeap() heapSample {
	ms := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		ms[i].Name = name
	}
	metrics.Read(ms)
	return heapSample{objects: ms[0].Value.Uint64(), live: ms[1].Value.Uint64()}
}

// heapSampler records the peaks of the heap metrics, read every
// millisecond and on sample.
type heapSampler struct {
	mu   sync.Mutex
	peak heapSample
	done chan struct{}
	wg   sync.WaitGroup
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{})}
	h.sample()
	h.wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
				h.sample()
			}
		}
	})
	return h
}

func (h *heapSampler) sample() {
	s := readHeap()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.peak.objects = max(h.peak.objects, s.objects)
	h.peak.live = max(h.peak.live, s.live)
}

// stop ends the sampling and returns the peaks.
func (h *heapSampler) stop() (objects, live uint64) {
	close(h.done)
	h.wg.Wait()
	return h.peak.objects, h.peak.live
}
