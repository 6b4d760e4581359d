package keel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// The lease tests grant the smallest TTL (MinLeaseTTL), which derives from
// the members' heartbeat timeout, so they run on keeltest's default
// heartbeat and scale with it.

// keepAlive keeps lease id alive from s, as KeepAlive does, until the
// returned stop is called or the test ends.
func keepAlive(tb testing.TB, s *keel.Store, id keel.LeaseID) (stop func()) {
	tb.Helper()
	ctx, stop := context.WithCancel(tb.Context())
	tb.Cleanup(stop)
	ch, err := s.KeepAlive(ctx, id)
	require.NoError(tb, err)
	go func() {
		for range ch { // closed once ctx ends
		}
	}()
	return stop
}

// TestClusterLeaseAcrossLeaderChanges grants a lease on a follower and
// keeps it alive from there through a leader change; once the holder stops
// renewing, the lease expires within TTL plus a failover allowance, and
// its keys go in one revision.
func TestClusterLeaseAcrossLeaderChanges(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	f := c.Follower()
	g, err := f.Grant(ctx, 1)
	require.NoError(t, err)
	ttl := time.Duration(g.TTL) * time.Second
	var rev int64
	for i := range 3 {
		pr, err := f.Put(ctx, fmt.Sprintf("lk/%d", i), "v", keel.WithLease(g.ID))
		require.NoError(t, err)
		rev = pr.Header.Revision
	}
	// From the next revision: f may not have applied the puts yet.
	wch := f.Watch(ctx, "lk/", keel.WithPrefix(), keel.WithRev(rev+1))
	stop := keepAlive(t, f, g.ID)

	// Move leadership away twice while the holder keeps renewing; the
	// lease must survive (no premature expiry across leader changes).
	const expired = "a kept-alive lease expired across leader changes"
	for range 2 {
		_, err := c.Leader().MoveLeader(ctx, c.Follower().MemberID())
		require.NoError(t, err)
		requireQuiet(t, wch, ttl/2, expired)
	}
	requireQuiet(t, wch, ttl, expired)
	gr, err := f.Get(ctx, "lk/", keel.WithPrefix())
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 3, expired)

	// The holder stops: the keys go, all in one revision, within the TTL
	// and a failover allowance generous enough for a loaded machine.
	stopped := time.Now()
	stop()
	select {
	case wr := <-wch:
		require.Len(t, wr.Events, 3)
	case <-time.After(ttl + 20*time.Second):
		t.Fatal("lease did not expire after the holder stopped")
	}
	require.Less(t, time.Since(stopped), ttl+10*time.Second)
	converge(t, c)
}

// TestClusterLeaseTTLNotResetByLeaderChanges lets a lease run down while
// the leader changes repeatedly: each new leader must continue from the
// checkpointed remaining TTL, so the lease still expires in about its TTL
// rather than living on as long as leaders keep changing (etcd #9888).
func TestClusterLeaseTTLNotResetByLeaderChanges(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	s := c.Member(0)
	g, err := s.Grant(ctx, s.MinLeaseTTL())
	require.NoError(t, err)
	ttl := time.Duration(g.TTL) * time.Second
	pr, err := s.Put(ctx, "doomed", "v", keel.WithLease(g.ID))
	require.NoError(t, err)
	wch := s.Watch(ctx, "doomed", keel.WithRev(pr.Header.Revision+1))
	// One renewal makes the leader checkpoint the remaining TTL.
	_, err = s.KeepAliveOnce(ctx, g.ID)
	require.NoError(t, err)

	// Change leaders every ttl/4 until the lease expires, for at most 3
	// TTLs; without checkpoints each new leader would restart the TTL and
	// the lease would never expire.
	transfer := func() {
		if _, err := c.Leader().MoveLeader(ctx, c.Follower().MemberID()); err != nil {
			t.Logf("transfer: %v", err)
		}
	}
	deadline := time.NewTimer(3 * ttl)
	defer deadline.Stop()
	tick := time.NewTicker(ttl / 4)
	defer tick.Stop()
	transfer()
	for {
		select {
		case wr := <-wch:
			require.NoError(t, wr.Err())
			require.Len(t, wr.Events, 1)
			require.Equal(t, keel.EventTypeDelete, wr.Events[0].Type, "the leased key changed but did not expire")
			return
		case <-tick.C:
			transfer()
		case <-deadline.C:
			t.Fatalf("lease outlived %v under repeated leader changes", 3*ttl)
		}
	}
}

// TestClusterIsolatedLeaderDoesNotRevoke cuts the leader off while a
// follower keeps a lease alive through the new leader; the old leader's
// view of the lease runs out, but it must not revoke it.
func TestClusterIsolatedLeaderDoesNotRevoke(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	l := c.Index(c.Leader())
	f := c.Follower()
	g, err := f.Grant(ctx, 1)
	require.NoError(t, err)
	ttl := time.Duration(g.TTL) * time.Second
	pr, err := f.Put(ctx, "held", "v", keel.WithLease(g.ID))
	require.NoError(t, err)
	wch := f.Watch(ctx, "held", keel.WithRev(pr.Header.Revision+1))
	keepAlive(t, f, g.ID) // until the test ends

	c.Isolate(l)
	// The others elect a new leader; the holder renews through it.
	require.Eventually(t, func() bool {
		for i, s := range c.Members() {
			if i != l && s.IsLeader() {
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond)
	const revoked = "a lease kept alive was revoked (by the isolated leader?)"
	requireQuiet(t, wch, 2*ttl, revoked) // the old leader's deadline for the lease passes
	c.HealAll()
	// Once the members agree, the old leader has rejoined as a follower:
	// whatever it proposed while it took itself for the leader is settled.
	converge(t, c)
	select {
	case wr := <-wch:
		t.Fatalf("%s: the watch delivered %d events (err %v)", revoked, len(wr.Events), wr.Err())
	default:
	}
	gr, err := f.Get(ctx, "held")
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 1, revoked)
}
