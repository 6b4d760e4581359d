package keel_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// massLeases is how many leases a mass expiry expires at once.
const massLeases = 10_000

// liveTTL is the TTL of the lease kept alive during a mass expiry, in
// seconds: far below the time revoking massLeases takes.
const liveTTL = 3

// grantMany grants n leases of ttl seconds on s, with one key attached to
// each (under prefix), from a few concurrent clients.
func grantMany(tb testing.TB, s *keel.Store, n int, ttl int64, prefix string) {
	tb.Helper()
	ctx := tb.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	const clients = 32
	for c := range clients {
		wg.Go(func() {
			for i := c; i < n; i += clients {
				g, err := s.Grant(ctx, ttl)
				if err == nil {
					_, err = s.Put(ctx, fmt.Sprintf("%s%05d", prefix, i), "x", keel.WithLease(g.ID))
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		require.NoError(tb, err)
	default:
	}
}

// writeSample is one write of the load next to a mass expiry.
type writeSample struct {
	start   time.Time
	latency time.Duration
	left    int // leases the leader still tracked when it completed
}

// writeLoad runs writers putting keys on s until ctx ends; the returned
// function waits for them and returns every write. A failed write fails
// tb.
func writeLoad(ctx context.Context, tb testing.TB, s *keel.Store, writers int) (wait func() []writeSample) {
	var mu sync.Mutex
	var samples []writeSample
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				start := time.Now()
				_, err := s.Put(ctx, fmt.Sprintf("load/%d/%d", w, i%100), "v")
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					tb.Errorf("write during mass expiry: %v", err)
					return
				}
				smp := writeSample{start: start, latency: time.Since(start), left: s.LeasesTracked()}
				mu.Lock()
				samples = append(samples, smp)
				mu.Unlock()
			}
		})
	}
	return func() []writeSample {
		wg.Wait()
		return samples
	}
}

// latencies summarises writes: count, p50, p99 and maximum.
type latencies struct {
	n             int
	p50, p99, max time.Duration
}

func summarise(samples []writeSample) latencies {
	if len(samples) == 0 {
		return latencies{}
	}
	lats := make([]time.Duration, len(samples))
	for i, smp := range samples {
		lats[i] = smp.latency
	}
	slices.Sort(lats)
	q := func(f float64) time.Duration { return lats[min(len(lats)-1, int(f*float64(len(lats))))] }
	return latencies{n: len(lats), p50: q(0.5), p99: q(0.99), max: lats[len(lats)-1]}
}

func (l latencies) String() string {
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", l.n, l.p50, l.p99, l.max)
}

// massExpiryResult is what runMassExpiry measured.
type massExpiryResult struct {
	before, during latencies
	took           time.Duration // from the expiry until the leader tracked no lease
	wroteEarly     bool          // a write completed while over half the leases were left
}

// runMassExpiry grants massLeases leases with a key each on a 3-member
// cluster, lets 4 writers write to the leader for a second, then expires
// every lease at once on every member and waits until the leader has
// revoked them all, while a follower keeps one more lease alive. It checks
// that no expired lease and no key of one remains, and that the live
// lease's keepalive kept working.
func runMassExpiry(tb testing.TB, opts ...keeltest.Option) massExpiryResult {
	c := keeltest.NewCluster(tb, 3, opts...)
	ctx := tb.Context()
	leader := c.Leader()
	grantMany(tb, leader, massLeases, 3600, "leased/")

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	wait := writeLoad(loadCtx, tb, leader, 4)
	time.Sleep(time.Second) // writes before the expiry, for comparison
	expiry := time.Now()
	for _, m := range c.Members() {
		m.ExpireLeasesNow()
	}
	// A live lease, kept alive from a follower throughout: its renewals
	// must not wait behind the revokes.
	f := c.Follower()
	live, err := f.Grant(ctx, liveTTL)
	require.NoError(tb, err)
	_, err = f.Put(ctx, "live", "x", keel.WithLease(live.ID))
	require.NoError(tb, err)
	kaCtx, stopKeepAlive := context.WithCancel(ctx)
	defer stopKeepAlive()
	kas, err := f.KeepAlive(kaCtx, live.ID)
	require.NoError(tb, err)
	var renewals atomic.Int64
	kaDone := make(chan struct{}) // closed when KeepAlive gives up
	go func() {
		defer close(kaDone)
		for range kas {
			renewals.Add(1)
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for leader.LeasesTracked() > 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	res := massExpiryResult{took: time.Since(expiry)}
	stopLoad()
	samples := wait()
	require.Equal(tb, 1, leader.LeasesTracked(), "leases left after %v (the kept-alive one stays)", res.took)
	select {
	case <-kaDone:
		tb.Fatal("the keepalive of a live lease failed during the expiry")
	default:
	}
	require.Positive(tb, renewals.Load(), "the keepalive of a live lease got no response during the expiry")
	stopKeepAlive()
	<-kaDone

	var before, during []writeSample
	for _, smp := range samples {
		if smp.start.Before(expiry) {
			before = append(before, smp)
			continue
		}
		during = append(during, smp)
		res.wroteEarly = res.wroteEarly || smp.left > massLeases/2
	}
	res.before, res.during = summarise(before), summarise(during)

	ls, err := leader.Leases(ctx)
	require.NoError(tb, err)
	require.Equal(tb, []keel.LeaseStatus{{ID: live.ID}}, ls.Leases)
	left, err := leader.Get(ctx, "leased/", keel.WithPrefix(), keel.WithCountOnly())
	require.NoError(tb, err)
	require.Zero(tb, left.Count, "keys of revoked leases remain")
	return res
}

// TestClusterMassLeaseExpiry expires 10,000 leases, each holding a key,
// at once while writers keep writing to the leader: every lease and key
// must be revoked in the end, writes must go on meanwhile (some complete
// while over half the leases are left), and so must the keepalives of a
// lease that did not expire. It logs the writes'
// latency before and during the expiry; timings are not asserted.
func TestClusterMassLeaseExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("grants 10,000 leases")
	}
	res := runMassExpiry(t)
	t.Logf("revoked %d leases in %v", massLeases, res.took.Round(time.Millisecond))
	t.Logf("writes before: %v", res.before)
	t.Logf("writes during: %v", res.during)
	require.True(t, res.wroteEarly, "no write completed before half the leases were revoked")
}

// BenchmarkMassLeaseExpiry reports the write latency on a 3-member
// cluster while 10,000 leases expire at once, at the default revoke rate
// and without a limit. One iteration is one whole scenario: run it with
// -benchtime=1x.
func BenchmarkMassLeaseExpiry(b *testing.B) {
	for _, rate := range []int{0, -1} {
		name := "rate=default"
		if rate < 0 {
			name = "rate=unlimited"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				res := runMassExpiry(b, keeltest.WithConfig(func(_ int, cfg *keel.Config) { cfg.LeaseRevokeRate = rate }))
				b.ReportMetric(float64(res.during.p99.Microseconds()), "p99-during-µs")
				b.ReportMetric(float64(res.before.p99.Microseconds()), "p99-before-µs")
				b.ReportMetric(float64(res.during.p50.Microseconds()), "p50-during-µs")
				b.ReportMetric(res.took.Seconds(), "revoke-s")
			}
		})
	}
}
