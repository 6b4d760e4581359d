package keel

import (
	"context"
	"testing"
	"time"

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
