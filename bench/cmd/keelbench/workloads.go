package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeldb/keel/bench/internal/workload"
)

// workloadID names a workload.
type workloadID string

// The workloads, in run order.
const (
	workloadW1  workloadID = "W1"
	workloadW2  workloadID = "W2"
	workloadW3  workloadID = "W3"
	workloadW3s workloadID = "W3s"
	workloadW4  workloadID = "W4"
	workloadW5  workloadID = "W5"
)

// Workload shapes fixed by the comparison's definition.
const (
	keyBytes     = 16
	valueBytes   = 256
	warmupOps    = 100
	w2Writers    = 64
	w3Readers    = 64
	w4Writers    = 16
	w5Clients    = 16
	w5Counters   = 10
	opTimeout    = 5 * time.Minute
	watchTimeout = time.Minute
)

// allWorkloads lists every workload in run order.
func allWorkloads() []workloadID {
	return []workloadID{workloadW1, workloadW2, workloadW3, workloadW3s, workloadW4, workloadW5}
}

// parseWorkload returns the workload named s (case-insensitive).
func parseWorkload(s string) (workloadID, bool) {
	for _, w := range allWorkloads() {
		if strings.EqualFold(string(w), s) {
			return w, true
		}
	}
	return "", false
}

func joinWorkloads(ws []workloadID) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = string(w)
	}
	return strings.Join(s, ",")
}

// workloadResult is one workload measured in one child.
type workloadResult struct {
	Workload workloadID `json:"workload"`
	// NA is set when the target does not run this workload.
	NA bool `json:"na,omitempty"`
	// Stats covers the timed operations: puts (W1, W2, W4), gets (W3,
	// W3s) or successful increments (W5, latency from the first read to
	// the successful transaction).
	Stats workload.Stats `json:"stats"`
	// Lag is W4's delivery lag.
	Lag *lagStats `json:"lag,omitempty"`
	// Attempts is W5's number of transactions; ConflictRatio the share
	// of them that failed their compare.
	// CPU is the process's CPU time (user + system, every thread: the
	// whole cluster and the clients) over the timed part.
	CPU           time.Duration `json:"cpu_ns,omitempty"`
	Attempts      int64         `json:"attempts,omitempty"`
	ConflictRatio float64       `json:"conflict_ratio,omitempty"`
}

// lagStats is W4's watch delivery lag over every timed event.
type lagStats struct {
	Received int           `json:"received"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	Max      time.Duration `json:"max_ns"`
}

// session runs the workloads of one child on one backend.
type session struct {
	b         backend
	counts    counts
	seed      uint64
	round     int
	prof      *profiler
	preloaded bool
	// cpu sums the CPU time of the timed parts since run started.
	cpu time.Duration
}

// run runs workload w.
func (s *session) run(ctx context.Context, w workloadID) (workloadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var (
		r   workloadResult
		err error
	)
	s.cpu = 0
	switch w {
	case workloadW1:
		r, err = s.runPuts(ctx, "w1/", 1, s.counts.W1)
	case workloadW2:
		r, err = s.runPuts(ctx, "w2/", w2Writers, s.counts.W2)
	case workloadW3:
		r, err = s.runGets(ctx, false)
	case workloadW3s:
		r, err = s.runGets(ctx, true)
	case workloadW4:
		r, err = s.runWatch(ctx)
	case workloadW5:
		r, err = s.runCAS(ctx)
	default:
		err = fmt.Errorf("%w: unknown workload %q", errUsage, w)
	}
	r.Workload = w
	r.CPU = s.cpu
	return r, err
}

// timed runs fn with the profilers on.
func (s *session) timed(fn func() error) error {
	if err := s.prof.begin(); err != nil {
		return err
	}
	before := processCPU()
	err := fn()
	s.cpu += processCPU() - before
	s.prof.end()
	return err
}

// runPuts is W1 (clients = 1) and W2: n puts of distinct keys under prefix.
func (s *session) runPuts(ctx context.Context, prefix string, clients, n int) (workloadResult, error) {
	put := func(base int) func(ctx context.Context, _, i int) error {
		return func(ctx context.Context, _, i int) error {
			k := key(prefix, base+i)
			return s.b.Put(ctx, k, valueFor(k))
		}
	}
	if _, _, err := runClients(ctx, clients, warmupOps, put(n)); err != nil {
		return workloadResult{}, fmt.Errorf("warm-up: %w", err)
	}
	var r workloadResult
	err := s.timed(func() error {
		lat, elapsed, err := runClients(ctx, clients, n, put(0))
		r.Stats = workload.Summarize(lat, n, elapsed)
		return err
	})
	return r, err
}

// preload puts the W3 keys once per child (untimed, with concurrency).
func (s *session) preload(ctx context.Context) error {
	if s.preloaded {
		return nil
	}
	_, _, err := runClients(ctx, w3Readers, s.counts.Keys, func(ctx context.Context, _, i int) error {
		k := key("w3/", i)
		return s.b.Put(ctx, k, valueFor(k))
	})
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	s.preloaded = true
	return nil
}

// runGets is W3 and W3s: 64 readers get random preloaded keys and check
// every value.
func (s *session) runGets(ctx context.Context, serializable bool) (workloadResult, error) {
	if err := s.preload(ctx); err != nil {
		return workloadResult{}, err
	}
	stream := uint64(3)
	if serializable {
		stream = 4
	}
	rngs := make([]*rand.Rand, w3Readers)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(s.seed+uint64(s.round), stream<<32|uint64(i)))
	}
	get := func(ctx context.Context, client, _ int) error {
		k := key("w3/", rngs[client].IntN(s.counts.Keys))
		got, err := s.b.Get(ctx, k, serializable)
		if err != nil {
			return err
		}
		if !got.Found || !isValueFor(k, got.Value) {
			return fmt.Errorf("%w: get %q: found=%v, %d bytes, not the preloaded value", errCheck, k, got.Found, len(got.Value))
		}
		return nil
	}
	if _, _, err := runClients(ctx, w3Readers, warmupOps, get); err != nil {
		return workloadResult{}, fmt.Errorf("warm-up: %w", err)
	}
	var r workloadResult
	err := s.timed(func() error {
		lat, elapsed, err := runClients(ctx, w3Readers, s.counts.W3, get)
		r.Stats = workload.Summarize(lat, s.counts.W3, elapsed)
		return err
	})
	return r, err
}

// runClients runs clients goroutines sharing total operations; op gets its
// client's index and the operation's sequence number. It returns every
// operation's latency and the wall time of the whole run, and stops at the
// first error.
func runClients(ctx context.Context, clients, total int, op func(ctx context.Context, client, i int) error) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	lats := make([][]time.Duration, clients)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			own := make([]time.Duration, 0, total/clients+1)
			for {
				i := int(next.Add(1) - 1)
				if i >= total || ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				if err := op(ctx, c, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					break
				}
				own = append(own, time.Since(t0))
			}
			lats[c] = own
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := make([]time.Duration, 0, total)
	for _, l := range lats {
		all = append(all, l...)
	}
	return all, elapsed, firstErr
}

// key returns the 16-byte key number i under prefix.
func key(prefix string, i int) string {
	return fmt.Sprintf("%s%0*d", prefix, keyBytes-len(prefix), i)
}

// valueFor returns the 256-byte value stored under k: k repeated.
func valueFor(k string) string { return strings.Repeat(k, valueBytes/len(k)) }

// isValueFor reports whether v is valueFor(k), without allocating.
func isValueFor(k string, v []byte) bool {
	if len(v) != valueBytes/len(k)*len(k) {
		return false
	}
	for off := 0; off < len(v); off += len(k) {
		if string(v[off:off+len(k)]) != k {
			return false
		}
	}
	return true
}
