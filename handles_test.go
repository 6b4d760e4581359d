package keel

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// drainClosed reads ch to its end and fails if it is not already closed
// (every response still buffered is returned).
func drainClosed[T any](tb testing.TB, ch <-chan T) []T {
	tb.Helper()
	var got []T
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, v)
		default:
			tb.Fatal("channel still open")
		}
	}
}

func TestNewKVIsTheStore(t *testing.T) {
	s := openSingle(t)
	require.Same(t, s, NewKV(s).(*Store))
}

// TestWatcherHandleClose checks clientv3's Watcher.Close on a NewWatcher
// handle: it ends the watches made through the handle, and only those,
// before it returns; then Watch gives a closed channel and RequestProgress
// an error, while the Store and its other watches go on.
func TestWatcherHandleClose(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	w := NewWatcher(s)
	ch1 := w.Watch(ctx, "a")
	ch2 := w.Watch(ctx, "b", WithPrefix())
	// A watch that ended before Close (its ctx) and one refused at once
	// (a bad option) must not keep Close waiting.
	ended, cancel := context.WithCancel(ctx)
	ch3 := w.Watch(ended, "c")
	cancel()
	for range ch3 {
	}
	bad := w.Watch(ctx, "d", WithLimit(1))
	wr := <-bad
	require.ErrorIs(t, wr.Err(), ErrInvalidOption)
	other := s.Watch(ctx, "a") // not through the handle

	_, err := s.Put(ctx, "a", "1")
	require.NoError(t, err)
	wr = <-ch1
	require.Len(t, wr.Events, 1)
	require.NoError(t, w.RequestProgress(ctx))
	for _, ch := range []WatchChan{ch1, ch2} {
		wr = <-ch
		require.True(t, wr.IsProgressNotify())
	}

	require.NoError(t, w.Close())
	require.Empty(t, drainClosed(t, ch1), "closed with no canceling response")
	require.Empty(t, drainClosed(t, ch2))
	require.Empty(t, drainClosed(t, w.Watch(ctx, "a")), "Watch after Close")
	require.ErrorIs(t, w.RequestProgress(ctx), ErrHandleClosed)
	require.NoError(t, w.Close(), "Close is idempotent")

	_, err = s.Put(ctx, "a", "2")
	require.NoError(t, err)
	var values []string
	for len(values) < 2 {
		wr := <-other
		for _, e := range wr.Events {
			values = append(values, string(e.Kv.Value))
		}
	}
	require.Equal(t, []string{"1", "2"}, values, "the Store's own watch goes on")
}

// TestLeaseHandleClose checks clientv3's Lease.Close on a NewLease handle:
// it stops the keepalives started through it before it returns, the
// leases themselves live on, KeepAlive then fails with
// ErrKeepAliveHalted, and the other calls still work.
func TestLeaseHandleClose(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	l := NewLease(s)
	g, err := l.Grant(ctx, 60)
	require.NoError(t, err)
	ka, err := l.KeepAlive(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, g.ID, (<-ka).ID)
	// A KeepAlive that fails (no such lease) is not left for Close.
	_, err = l.KeepAlive(ctx, g.ID+1)
	require.ErrorIs(t, err, ErrLeaseNotFound)
	dctx, stop := context.WithCancel(ctx)
	direct, err := s.KeepAlive(dctx, g.ID) // not through the handle
	require.NoError(t, err)

	require.NoError(t, l.Close())
	drainClosed(t, ka)
	_, err = l.KeepAlive(ctx, g.ID)
	var halted ErrKeepAliveHalted
	require.ErrorAs(t, err, &halted)
	require.ErrorIs(t, err, ErrHandleClosed)
	require.Equal(t, "keel: leases keep alive halted: keel: handle is closed", err.Error())

	ttl, err := l.TimeToLive(ctx, g.ID)
	require.NoError(t, err)
	require.Positive(t, ttl.TTL, "the lease outlives the handle")
	_, err = l.KeepAliveOnce(ctx, g.ID)
	require.NoError(t, err)
	ls, err := l.Leases(ctx)
	require.NoError(t, err)
	require.Len(t, ls.Leases, 1)
	select {
	case _, ok := <-direct:
		require.True(t, ok, "the Store's own keepalive goes on")
	default:
	}
	_, err = l.Revoke(ctx, g.ID)
	require.NoError(t, err)
	stop()
	for range direct {
	}
}

func TestErrKeepAliveHaltedText(t *testing.T) {
	require.Equal(t, "keel: leases keep alive halted", ErrKeepAliveHalted{}.Error())
	require.False(t, errors.Is(ErrKeepAliveHalted{}, ErrHandleClosed))
}
