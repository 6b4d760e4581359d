package keeltest_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// requireValue requires a linearizable read of key on s to return want.
func requireValue(tb testing.TB, s *keel.Store, key, want string) {
	tb.Helper()
	gr, err := s.Get(tb.Context(), key)
	require.NoError(tb, err)
	require.Len(tb, gr.Kvs, 1, "key %q on %s", key, s.ID())
	require.Equal(tb, want, string(gr.Kvs[0].Value), "key %q on %s", key, s.ID())
}

func TestNewCluster(t *testing.T) {
	tests := []struct {
		name string
		n    int
	}{
		{name: "single member", n: 1},
		{name: "three members", n: 3},
		{name: "five members", n: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := keeltest.NewCluster(t, tc.n)
			members := c.Members()
			require.Len(t, members, tc.n)
			for i, s := range members {
				require.NotNil(t, s)
				require.Equal(t, fmt.Sprintf("m%d", i), s.ID())
				require.Equal(t, i, c.Index(s))
				require.Same(t, s, c.Member(i))
				require.Equal(t, s.Addr(), c.Config(i).Addr)
			}
			l := c.Leader()
			require.True(t, l.IsLeader())
			// A write through any member is visible on every member.
			w := members[tc.n-1]
			if tc.n > 1 {
				w = c.Follower()
				require.NotSame(t, l, w)
				require.False(t, w.IsLeader())
			}
			_, err := w.Put(t.Context(), "k", "v")
			require.NoError(t, err)
			for _, s := range members {
				requireValue(t, s, "k", "v")
			}
			require.NoError(t, c.WaitConverged(t.Context()))
			require.Equal(t, -1, c.Index(nil))
		})
	}
}

func TestStopAndRestart(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	_, err := c.Leader().Put(ctx, "before", "1")
	require.NoError(t, err)
	old := c.Index(c.Leader())
	oldTerm := term(t, c.Leader())
	dir, addr := c.Config(old).Dir, c.Config(old).Addr

	c.Stop(old)
	require.Nil(t, c.Member(old))
	require.Nil(t, c.Members()[old])
	l := c.Leader()
	require.NotEqual(t, old, c.Index(l))
	require.Greater(t, term(t, l), oldTerm)
	_, err = l.Put(ctx, "during", "2")
	require.NoError(t, err)

	c.Restart(old)
	s := c.Member(old)
	require.NotNil(t, s)
	require.Equal(t, dir, c.Config(old).Dir)
	require.Equal(t, addr, s.Addr())
	requireValue(t, s, "before", "1")
	requireValue(t, s, "during", "2")
	require.NoError(t, c.WaitConverged(ctx))

	// Restart of a running member stops it first.
	c.Restart(old)
	requireValue(t, c.Member(old), "during", "2")
}

// TestCrashSkipsHandOver crashes the leader with a heartbeat timeout far
// longer than the checks right after the crash take: the followers learn nothing from a crash, so
// they still name the crashed member as leader afterwards (a graceful Stop
// would have handed leadership over). They elect a new one once their
// heartbeat timeout passes, and the crashed member restarts with every
// acknowledged write.
func TestCrashSkipsHandOver(t *testing.T) {
	c := keeltest.NewCluster(t, 3, keeltest.WithConfig(func(i int, cfg *keel.Config) {
		cfg.HeartbeatTimeout = time.Second
	}))
	ctx := t.Context()
	l := c.Leader()
	for i := range 20 {
		_, err := c.Members()[i%3].Put(ctx, fmt.Sprintf("k%02d", i), "v")
		require.NoError(t, err)
	}
	li := c.Index(l)
	c.Crash(li)
	require.Nil(t, c.Member(li))
	for _, s := range c.Members() {
		if s != nil {
			require.Equal(t, l.ID(), s.Leader(), "member %s", s.ID())
		}
	}
	nl := c.Leader()
	require.NotEqual(t, li, c.Index(nl))

	c.Restart(li)
	gr, err := c.Member(li).Get(ctx, "k", keel.WithPrefix(), keel.WithCountOnly())
	require.NoError(t, err)
	require.EqualValues(t, 20, gr.Count)
	require.NoError(t, c.WaitConverged(ctx))
}

func TestIsolateAndHeal(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	l := c.Leader()
	li := c.Index(l)
	oldTerm := term(t, l)

	c.Isolate(li)
	// The others elect a leader among themselves and keep serving.
	nl := c.Leader() // serves, so it is not the isolated member
	require.NotEqual(t, li, c.Index(nl))
	require.Greater(t, term(t, nl), oldTerm)
	_, err := nl.Put(ctx, "k", "majority")
	require.NoError(t, err)
	// The isolated member cannot serve a linearizable read.
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = l.Get(rctx, "k")
	cancel()
	require.Error(t, err)

	c.Heal(li)
	requireValue(t, l, "k", "majority")
	require.NoError(t, c.WaitConverged(ctx))
}

// TestHealKeepsOtherIsolations heals one of two isolated members: the link
// between them stays cut until the second heals too.
func TestHealKeepsOtherIsolations(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	l := c.Index(c.Leader())
	a, b := (l+1)%3, (l+2)%3
	c.Isolate(a)
	c.Isolate(b)
	c.Heal(a)
	ctx := t.Context()
	// a and the old leader form a majority; b is still cut off.
	_, err := c.Leader().Put(ctx, "k", "v")
	require.NoError(t, err)
	requireValue(t, c.Member(a), "k", "v")
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = c.Member(b).Get(rctx, "k")
	cancel()
	require.Error(t, err)
	c.HealAll()
	requireValue(t, c.Member(b), "k", "v")
}

// TestConfigHook checks that hooks run in order for every member, that
// their settings reach the members, and that a hook's Dial stays
// underneath the cluster's network.
func TestConfigHook(t *testing.T) {
	var dials atomic.Int64
	var seen sync.Map
	c := keeltest.NewCluster(t, 3,
		keeltest.WithConfig(func(i int, cfg *keel.Config) {
			cfg.MaxTxnOps = 2
			cfg.ID = "ignored" // keeltest keeps its IDs
		}),
		keeltest.WithConfig(func(i int, cfg *keel.Config) {
			seen.Store(i, cfg.MaxTxnOps)
			cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
				dials.Add(1)
				var d net.Dialer
				return d.DialContext(ctx, "tcp", addr)
			}
		}))
	for i := range 3 {
		v, ok := seen.Load(i)
		require.True(t, ok, "hook ran for member %d", i)
		require.Equal(t, 2, v)
		require.Equal(t, fmt.Sprintf("m%d", i), c.Member(i).ID())
	}
	require.Positive(t, dials.Load())
	_, err := c.Follower().Txn(t.Context()).Then(keel.OpPut("a", "1"), keel.OpPut("b", "1"), keel.OpPut("c", "1")).Commit()
	require.ErrorIs(t, err, keel.ErrTooManyOps)
}

// TestListenOnStoppedAddress puts a listener of the test's own on a
// stopped member's address: the other members' connections reach it.
func TestListenOnStoppedAddress(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	f := c.Index(c.Follower())
	c.Stop(f)
	ln := c.Listen(f)
	require.Equal(t, c.Config(f).Addr, ln.Addr().String())
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		conn, err := ln.Accept()
		if err == nil {
			_ = conn.Close()
		}
	}()
	// The leader keeps trying to reach the member.
	select {
	case <-accepted:
	case <-time.After(keeltest.WaitLimit):
		t.Fatal("no connection reached the listener")
	}
	require.NoError(t, ln.Close())
	c.Restart(f)
	_, err := c.Leader().Put(t.Context(), "k", "v")
	require.NoError(t, err)
	requireValue(t, c.Member(f), "k", "v")
}

// TestConcurrentUse reads the members while one restarts, for the race
// detector.
func TestConcurrentUse(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	f := c.Index(c.Follower())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, s := range c.Members() {
				if s != nil {
					_ = c.Index(s)
				}
			}
			_ = c.Member(f)
		}
	})
	c.Restart(f)
	c.Crash(f)
	c.Restart(f)
	close(stop)
	wg.Wait()
	require.NoError(t, c.WaitConverged(t.Context()))
}

func term(tb testing.TB, s *keel.Store) uint64 {
	tb.Helper()
	st, err := s.Status(tb.Context(), "")
	require.NoError(tb, err)
	return st.Header.RaftTerm
}
