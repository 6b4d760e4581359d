package keel

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func TestLeaseBasics(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)

	g, err := s.Grant(ctx, 0)
	require.NoError(t, err)
	require.NotZero(t, g.ID)
	require.Equal(t, s.MinLeaseTTL(), g.TTL, "TTL raised to the minimum")
	g2, err := s.Grant(ctx, 3600)
	require.NoError(t, err)
	require.Equal(t, int64(3600), g2.TTL)
	require.NotEqual(t, g.ID, g2.ID)
	_, err = s.Grant(ctx, MaxLeaseTTL+1)
	require.ErrorIs(t, err, ErrLeaseTTLTooLarge)

	for _, k := range []string{"svc/c", "svc/a", "svc/b"} {
		_, err := s.Put(ctx, k, "up", WithLease(g2.ID))
		require.NoError(t, err)
	}
	kv := mustGet(t, s, "svc/a")
	require.Equal(t, int64(g2.ID), kv.Lease)
	_, err = s.Put(ctx, "svc/x", "v", WithLease(12345))
	require.ErrorIs(t, err, ErrLeaseNotFound)

	// WithIgnoreLease keeps the lease; a plain put detaches it.
	_, err = s.Put(ctx, "svc/a", "v2", WithIgnoreLease())
	require.NoError(t, err)
	require.Equal(t, int64(g2.ID), mustGet(t, s, "svc/a").Lease)

	ttl, err := s.TimeToLive(ctx, g2.ID, WithAttachedKeys())
	require.NoError(t, err)
	require.Equal(t, int64(3600), ttl.GrantedTTL)
	require.InDelta(t, 3600, ttl.TTL, 5)
	require.Equal(t, [][]byte{[]byte("svc/a"), []byte("svc/b"), []byte("svc/c")}, ttl.Keys)

	ka, err := s.KeepAliveOnce(ctx, g2.ID)
	require.NoError(t, err)
	require.Equal(t, int64(3600), ka.TTL)

	ls, err := s.Leases(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []LeaseStatus{{ID: g.ID}, {ID: g2.ID}}, ls.Leases)

	// Revoke deletes every attached key in one revision, in key order.
	wch := s.Watch(ctx, "svc/", WithPrefix())
	rr, err := s.Revoke(ctx, g2.ID)
	require.NoError(t, err)
	wr := <-wch
	require.Len(t, wr.Events, 3)
	for i, want := range []string{"svc/a", "svc/b", "svc/c"} {
		require.Equal(t, EventTypeDelete, wr.Events[i].Type)
		require.Equal(t, want, string(wr.Events[i].Kv.Key))
		require.Equal(t, rr.Header.Revision, wr.Events[i].Kv.ModRevision)
	}
	gr, err := s.Get(ctx, "svc/", WithPrefix())
	require.NoError(t, err)
	require.Empty(t, gr.Kvs)

	_, err = s.Revoke(ctx, g2.ID)
	require.ErrorIs(t, err, ErrLeaseNotFound)
	_, err = s.KeepAliveOnce(ctx, g2.ID)
	require.ErrorIs(t, err, ErrLeaseNotFound)
	ttl, err = s.TimeToLive(ctx, g2.ID)
	require.NoError(t, err)
	require.Equal(t, int64(-1), ttl.TTL)
}

func TestLeaseExpiresWithoutKeepAlive(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	g, err := s.Grant(ctx, 1)
	require.NoError(t, err)
	start := time.Now()
	_, err = s.Put(ctx, "eph/1", "x", WithLease(g.ID))
	require.NoError(t, err)
	_, err = s.Put(ctx, "eph/2", "x", WithLease(g.ID))
	require.NoError(t, err)
	wch := s.Watch(ctx, "eph/", WithPrefix())
	select {
	case wr := <-wch:
		require.Len(t, wr.Events, 2, "both keys deleted in one revision")
		require.Equal(t, EventTypeDelete, wr.Events[0].Type)
	case <-time.After(20 * time.Second):
		t.Fatal("lease did not expire")
	}
	require.GreaterOrEqual(t, time.Since(start), time.Duration(g.TTL)*time.Second-100*time.Millisecond, "expired before its TTL")
	ttl, err := s.TimeToLive(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, int64(-1), ttl.TTL)
}

func TestLeaseKeepAliveKeepsItAlive(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	g, err := s.Grant(ctx, 1)
	require.NoError(t, err)
	_, err = s.Put(ctx, "k", "v", WithLease(g.ID))
	require.NoError(t, err)
	kctx, stop := context.WithCancel(ctx)
	ch, err := s.KeepAlive(kctx, g.ID)
	require.NoError(t, err)
	// Alive through several TTLs.
	deadline := time.Now().Add(3 * time.Second)
	renewals := 0
	for time.Now().Before(deadline) {
		select {
		case r := <-ch:
			require.NotNil(t, r)
			renewals++
		case <-time.After(5 * time.Second):
			t.Fatal("keepalive stalled")
		}
	}
	require.Greater(t, renewals, 3)
	mustGet(t, s, "k")
	// Stopping the keepalive closes the channel; the lease then expires.
	stop()
	for range ch {
	}
	require.Eventually(t, func() bool {
		gr, err := s.Get(ctx, "k")
		return err == nil && len(gr.Kvs) == 0
	}, 20*time.Second, 20*time.Millisecond)
}

// TestClusterLeaseAcrossLeaderChanges grants a lease on a follower and
// keeps it alive from there through a leader change; once the holder stops
// renewing, the lease expires within TTL plus a failover allowance, and
// its keys go in one revision.
func TestClusterLeaseAcrossLeaderChanges(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testCtx(t)
	f := c.follower()
	g, err := c.stores[f].Grant(ctx, 1)
	require.NoError(t, err)
	ttl := time.Duration(g.TTL) * time.Second
	for i := range 3 {
		_, err := c.stores[f].Put(ctx, fmt.Sprintf("lk/%d", i), "v", WithLease(g.ID))
		require.NoError(t, err)
	}
	kctx, stop := context.WithCancel(ctx)
	ch, err := c.stores[f].KeepAlive(kctx, g.ID)
	require.NoError(t, err)
	go func() {
		for range ch {
		}
	}()

	// Move leadership away twice while the holder keeps renewing; the
	// lease must survive (no premature expiry across leader changes).
	for range 2 {
		l := c.leader()
		require.NoError(t, c.stores[l].TransferLeadership(ctx))
		time.Sleep(ttl / 2)
	}
	time.Sleep(ttl)
	gr, err := c.stores[f].Get(ctx, "lk/", WithPrefix())
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 3, "a kept-alive lease expired across leader changes")

	// The holder stops: the keys go, all in one revision.
	wch := c.stores[f].Watch(ctx, "lk/", WithPrefix())
	stopped := time.Now()
	stop()
	select {
	case wr := <-wch:
		require.Len(t, wr.Events, 3)
	case <-time.After(ttl + 20*time.Second):
		t.Fatal("lease did not expire after the holder stopped")
	}
	require.Less(t, time.Since(stopped), ttl+c.cfgs[0].ElectionTimeout+10*time.Second)
	c.waitConverged()
}

// TestClusterLeaseTTLNotResetByLeaderChanges lets a lease run down while
// the leader changes repeatedly: each new leader must continue from the
// checkpointed remaining TTL, so the lease still expires in about its TTL
// rather than living on as long as leaders keep changing (etcd #9888).
func TestClusterLeaseTTLNotResetByLeaderChanges(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testCtx(t)
	min := c.stores[0].MinLeaseTTL()
	g, err := c.stores[0].Grant(ctx, min)
	require.NoError(t, err)
	ttl := time.Duration(g.TTL) * time.Second
	_, err = c.stores[0].Put(ctx, "doomed", "v", WithLease(g.ID))
	require.NoError(t, err)
	// One renewal makes the leader checkpoint the remaining TTL.
	_, err = c.stores[0].KeepAliveOnce(ctx, g.ID)
	require.NoError(t, err)
	start := time.Now()
	// Change leaders every ttl/4 for about 2 TTLs; without checkpoints each
	// new leader would restart the TTL and the lease would never expire.
	expired := false
	for time.Since(start) < 3*ttl && !expired {
		l := c.leader()
		if err := c.stores[l].TransferLeadership(ctx); err != nil && err != raft.ErrLeadershipTransferInProgress {
			t.Logf("transfer: %v", err)
		}
		time.Sleep(ttl / 4)
		gr, err := c.stores[c.leader()].Get(ctx, "doomed", WithSerializable())
		require.NoError(t, err)
		expired = len(gr.Kvs) == 0
	}
	require.True(t, expired, "lease outlived %v under repeated leader changes", 3*ttl)
}

// TestClusterIsolatedLeaderDoesNotRevoke cuts the leader off while a
// follower keeps a lease alive through the new leader; the old leader's
// view of the lease runs out, but it must not revoke it.
func TestClusterIsolatedLeaderDoesNotRevoke(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testCtx(t)
	l := c.leader()
	f := c.follower()
	g, err := c.stores[f].Grant(ctx, 1)
	require.NoError(t, err)
	ttl := time.Duration(g.TTL) * time.Second
	_, err = c.stores[f].Put(ctx, "held", "v", WithLease(g.ID))
	require.NoError(t, err)
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := c.stores[f].KeepAlive(kctx, g.ID)
	require.NoError(t, err)
	go func() {
		for range ch {
		}
	}()

	c.isolate(l)
	// The others elect a new leader; the holder renews through it.
	require.Eventually(t, func() bool {
		for i, s := range c.stores {
			if i != l && s.IsLeader() {
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond)
	time.Sleep(2 * ttl) // the old leader's deadline for the lease passes
	c.net.heal()
	time.Sleep(ttl / 2)
	gr, err := c.stores[f].Get(ctx, "held")
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 1, "a lease kept alive was revoked (by the isolated leader?)")
	c.waitConverged()
}
