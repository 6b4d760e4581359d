package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/keeldb/keel/bench/internal/workload"
)

// counterValue encodes a W5 counter: decimal, space-padded to 256 bytes.
func counterValue(n int) string { return fmt.Sprintf("%-*d", valueBytes, n) }

// parseCounter decodes counterValue.
func parseCounter(v []byte) (int, error) {
	n, err := strconv.Atoi(strings.TrimRight(string(v), " "))
	if err != nil {
		return 0, fmt.Errorf("%w: counter value %.20q: %w", errCheck, v, err)
	}
	return n, nil
}

// increment adds one to a random counter under prefix with a linearizable
// read and compare-and-swap transactions on its mod revision, retrying
// from each failed transaction's read. It returns the transactions made.
func (s *session) increment(ctx context.Context, prefix string, rng *rand.Rand) (int64, error) {
	k := key(prefix, rng.IntN(w5Counters))
	cur, err := s.b.Get(ctx, k, false)
	if err != nil {
		return 0, err
	}
	for attempts := int64(1); ; attempts++ {
		if !cur.Found {
			return attempts, fmt.Errorf("%w: counter %q missing", errCheck, k)
		}
		n, err := parseCounter(cur.Value)
		if err != nil {
			return attempts, err
		}
		ok, next, err := s.b.CAS(ctx, k, cur.ModRev, counterValue(n+1))
		if err != nil || ok {
			return attempts, err
		}
		cur = next
	}
}

// counterSum reads every counter under prefix linearizably and adds them.
func (s *session) counterSum(ctx context.Context, prefix string) (int, error) {
	sum := 0
	for i := range w5Counters {
		k := key(prefix, i)
		got, err := s.b.Get(ctx, k, false)
		if err != nil {
			return 0, err
		}
		if !got.Found {
			return 0, fmt.Errorf("%w: counter %q missing", errCheck, k)
		}
		n, err := parseCounter(got.Value)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// runCAS is W5: 16 clients increment 10 counters until -w5 increments
// succeeded, then the counters must add up to -w5.
func (s *session) runCAS(ctx context.Context) (workloadResult, error) {
	const prefix, warmPrefix = "w5/", "w5u/"
	for _, p := range []string{prefix, warmPrefix} {
		for i := range w5Counters {
			if err := s.b.Put(ctx, key(p, i), counterValue(0)); err != nil {
				return workloadResult{}, fmt.Errorf("preload counters: %w", err)
			}
		}
	}
	rngs := make([]*rand.Rand, w5Clients)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(s.seed+uint64(s.round), 5<<32|uint64(i)))
	}
	var attempts atomic.Int64
	incr := func(prefix string) func(ctx context.Context, client, _ int) error {
		return func(ctx context.Context, client, _ int) error {
			n, err := s.increment(ctx, prefix, rngs[client])
			attempts.Add(n)
			return err
		}
	}
	if _, _, err := runClients(ctx, w5Clients, warmupOps, incr(warmPrefix)); err != nil {
		return workloadResult{}, fmt.Errorf("warm-up: %w", err)
	}
	attempts.Store(0)
	n := s.counts.W5
	var r workloadResult
	err := s.timed(func() error {
		lat, elapsed, err := runClients(ctx, w5Clients, n, incr(prefix))
		r.Stats = workload.Summarize(lat, n, elapsed)
		return err
	})
	if err != nil {
		return r, err
	}
	r.Attempts = attempts.Load()
	if r.Attempts > 0 {
		r.ConflictRatio = float64(r.Attempts-int64(n)) / float64(r.Attempts)
	}
	for _, c := range []struct {
		prefix string
		want   int
	}{{prefix, n}, {warmPrefix, warmupOps}} {
		sum, err := s.counterSum(ctx, c.prefix)
		if err != nil {
			return r, err
		}
		if sum != c.want {
			return r, fmt.Errorf("%w: counters under %q add up to %d, want %d", errCheck, c.prefix, sum, c.want)
		}
	}
	return r, nil
}
