package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of one write during a load.
const (
	writeTimeout = 30 * time.Second
	writeRetries = 10
)

// loadSpec describes a concurrent write of keys [0, N).
type loadSpec struct {
	// N is the number of keys.
	N int
	// Batch is the number of puts per write (1: single puts, else a txn).
	Batch int
	// Writers is the number of concurrent writers.
	Writers int
	// ValueBytes is the size of every value.
	ValueBytes int
	// Name names key i.
	Name func(int) string
}

// load writes every batch of spec through c with spec.Writers goroutines
// taking the next unwritten batch, and returns the wall time and the
// number of retried writes. A write that fails is retried (the leader may
// have moved) up to writeRetries times.
func load(ctx context.Context, c cluster, spec loadSpec) (time.Duration, int, error) {
	total := numBatches(spec.N, spec.Batch)
	var next, retries atomic.Int64
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	start := time.Now()
	for range min(spec.Writers, total) {
		wg.Go(func() {
			for {
				b := int(next.Add(1) - 1)
				if b >= total || ctx.Err() != nil {
					return
				}
				kvs := batchAt(b, spec.Batch, spec.N, spec.ValueBytes, spec.Name)
				n, err := putRetrying(ctx, c, kvs)
				retries.Add(int64(n))
				if err != nil {
					cancel(fmt.Errorf("write batch %d (%s..): %w", b, kvs[0].key, err))
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return elapsed, int(retries.Load()), context.Cause(ctx)
}

// putRetrying writes kvs, retrying failures; it returns the number of
// retries.
func putRetrying(ctx context.Context, c cluster, kvs []kv) (int, error) {
	for attempts := 1; ; attempts++ {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err := c.put(wctx, kvs)
		cancel()
		if err == nil {
			return attempts - 1, nil
		}
		if attempts > writeRetries || ctx.Err() != nil {
			return attempts - 1, fmt.Errorf("after %d attempts: %w", attempts, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
