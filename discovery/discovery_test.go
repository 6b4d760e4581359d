package discovery_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/discovery"
	"github.com/keeldb/keel/keeltest"
	"github.com/stretchr/testify/require"
)

func TestRegisterLookup(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	reg := discovery.New(st, discovery.Config{})
	a := register(t, reg, discovery.Instance{Service: "api", ID: "a2", Addr: "127.0.0.1:2", Metadata: map[string]string{"zone": "z1"}})
	register(t, reg, discovery.Instance{Service: "api", ID: "a1", Addr: "127.0.0.1:1"})
	register(t, reg, discovery.Instance{Service: "web", ID: "w1", Addr: "127.0.0.1:3"})
	require.Equal(t, "keel/discovery/api/a2", a.Key())

	got, err := reg.Lookup(ctx, "api")
	require.NoError(t, err)
	require.Equal(t, []string{"a1", "a2"}, ids(got))
	require.Equal(t, map[string]string{"zone": "z1"}, got[1].Metadata)
	require.Equal(t, "127.0.0.1:2", got[1].Addr)

	// A malformed record under the prefix is skipped, not fatal.
	_, err = st.Put(ctx, "keel/discovery/api/zz", "{garbage")
	require.NoError(t, err)
	got, err = reg.Lookup(ctx, "api")
	require.NoError(t, err)
	require.Equal(t, []string{"a1", "a2"}, ids(got))

	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close is idempotent")
	require.True(t, isClosed(a.Done()))
	got, err = reg.Lookup(ctx, "api")
	require.NoError(t, err)
	require.Equal(t, []string{"a1"}, ids(got), "Close deregisters at once")

	other := discovery.New(st, discovery.Config{Prefix: "other/"})
	got, err = other.Lookup(ctx, "api")
	require.NoError(t, err)
	require.Empty(t, got, "prefixes are separate")
}

func TestRegisterValidates(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	reg := discovery.New(st, discovery.Config{})
	tests := []struct {
		name string
		in   discovery.Instance
		err  error
	}{
		{"empty service", discovery.Instance{ID: "x"}, discovery.ErrEmptyService},
		{"empty id", discovery.Instance{Service: "api"}, discovery.ErrEmptyID},
		{"slash in service", discovery.Instance{Service: "a/b", ID: "x"}, discovery.ErrInvalidService},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reg.Register(ctx, tc.in)
			require.ErrorIs(t, err, tc.err)
			leases, err := st.Leases(ctx)
			require.NoError(t, err)
			require.Empty(t, leases.Leases, "no lease granted for bad input")
		})
	}
	_, err := reg.Lookup(ctx, "")
	require.ErrorIs(t, err, discovery.ErrEmptyService)
	_, ok := <-reg.Watch(ctx, "a/b")
	require.False(t, ok, "Watch of an invalid service is closed")
}

func TestWatch(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	reg := discovery.New(st, discovery.Config{})
	register(t, reg, discovery.Instance{Service: "api", ID: "a1"})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := reg.Watch(wctx, "api")

	first := next(t, ch)
	require.True(t, first.Full)
	require.Equal(t, []string{"a1"}, ids(first.Instances))

	b := register(t, reg, discovery.Instance{Service: "api", ID: "b1", Addr: "x"})
	u := next(t, ch)
	require.False(t, u.Full)
	require.Greater(t, u.Revision, first.Revision)
	require.Equal(t, []string{"a1", "b1"}, ids(u.Instances))
	require.Equal(t, []discovery.Change{{Type: discovery.Added, Instance: b.Instance()}}, u.Changes)

	register(t, reg, discovery.Instance{Service: "web", ID: "w1"}) // another service: no update
	b2 := register(t, reg, discovery.Instance{Service: "api", ID: "b1", Addr: "y"})
	u = next(t, ch)
	require.Equal(t, []discovery.Change{{Type: discovery.Updated, Instance: b2.Instance()}}, u.Changes)

	require.NoError(t, b2.Close())
	u = next(t, ch)
	require.Equal(t, discovery.Removed, u.Changes[0].Type)
	require.Equal(t, "b1", u.Changes[0].Instance.ID)
	require.Equal(t, []string{"a1"}, ids(u.Instances))

	cancel()
	require.Eventually(t, func() bool {
		select {
		case _, ok := <-ch:
			return !ok
		default:
			return false
		}
	}, waitLimit, 10*time.Millisecond, "channel closes when ctx ends")
}

func TestWatchRelistsAfterCompaction(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	cc := &compactingClient{Client: st, release: make(chan struct{})}
	reg := discovery.New(cc, discovery.Config{})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := reg.Watch(wctx, "api")
	require.Empty(t, next(t, ch).Instances)

	// Changed while the watch's history is "compacted away".
	register(t, reg, discovery.Instance{Service: "api", ID: "a1"})
	close(cc.release)
	u := next(t, ch)
	require.True(t, u.Full, "re-listed after compaction")
	require.Equal(t, []string{"a1"}, ids(u.Instances))

	register(t, reg, discovery.Instance{Service: "api", ID: "a2"})
	u = next(t, ch)
	require.False(t, u.Full)
	require.Equal(t, []string{"a1", "a2"}, ids(u.Instances))
	cancel()
	for range ch {
	}
	cc.wg.Wait()
}

// TestInstanceDisappearsWhenProcessDies registers an instance through one
// member of a 3-member cluster and crashes that member (the process dies):
// its keepalive stops, the lease expires, and the others see the instance
// removed. A lease registered through the leader expires under the next
// leader, after a failover.
func TestInstanceDisappearsWhenProcessDies(t *testing.T) {
	tests := []struct {
		name  string
		dying func(*keeltest.Cluster) *keel.Store
	}{
		{name: "follower", dying: (*keeltest.Cluster).Follower},
		{name: "leader", dying: (*keeltest.Cluster).Leader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := keeltest.NewCluster(t, 3)
			ctx := testCtx(t)
			d := c.Index(tc.dying(c))
			watcher := discovery.New(c.Member((d+1)%3), discovery.Config{})
			ch := watcher.Watch(ctx, "api")
			require.Empty(t, next(t, ch).Instances)

			dying := discovery.New(c.Member(d), discovery.Config{TTL: 1})
			r, err := dying.Register(ctx, discovery.Instance{Service: "api", ID: "doomed"})
			require.NoError(t, err)
			register(t, watcher, discovery.Instance{Service: "api", ID: "stays"})
			seen := map[string]bool{}
			for len(seen) < 2 {
				u := next(t, ch)
				for _, chg := range u.Changes {
					require.Equal(t, discovery.Added, chg.Type)
					seen[chg.Instance.ID] = true
				}
			}

			c.Crash(d)
			require.Eventually(t, func() bool { return isClosed(r.Done()) }, waitLimit, 10*time.Millisecond,
				"the keepalive stops with the store")
			for {
				u := next(t, ch)
				if len(u.Changes) == 1 && u.Changes[0].Type == discovery.Removed {
					require.Equal(t, "doomed", u.Changes[0].Instance.ID)
					require.Equal(t, []string{"stays"}, ids(u.Instances))
					break
				}
			}
			got, err := watcher.Lookup(ctx, "api")
			require.NoError(t, err)
			require.Equal(t, []string{"stays"}, ids(got))
		})
	}
}

// TestWatchRetriesFailedReads checks Watch's retry timing on a client
// whose reads fail, in a synctest bubble (fake time: the backoff takes no
// real time). A read that fails is retried after a pause that doubles
// from 50 ms up to 2 s, so a store without a leader is not flooded and a
// recovered one is noticed within 2 s; a stopped store ends the watch at
// once.
func TestWatchRetriesFailedReads(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name   string
		errs   []error         // the reads' errors, in order; later reads succeed
		gaps   []time.Duration // between one read and the next (none: one read)
		closes bool            // the channel closes instead of delivering
	}{
		{
			name: "no leader for a while",
			errs: slices.Repeat([]error{keel.ErrNoLeader}, 8),
			gaps: []time.Duration{ms(50), ms(100), ms(200), ms(400), ms(800), ms(1600), ms(2000), ms(2000)},
		},
		{
			name:   "store stopped",
			errs:   []error{keel.ErrStopped},
			closes: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fc := &failingClient{errs: tc.errs}
				ch := discovery.New(fc, discovery.Config{}).Watch(t.Context(), "api")
				u, ok := <-ch // a watch that neither delivered nor closed would deadlock the bubble
				require.Equal(t, !tc.closes, ok)
				if ok {
					require.True(t, u.Full)
					require.Equal(t, int64(7), u.Revision)
				}
				var gaps []time.Duration
				for i := 1; i < len(fc.reads); i++ {
					gaps = append(gaps, fc.reads[i].Sub(fc.reads[i-1]))
				}
				require.Equal(t, tc.gaps, gaps)
			})
		})
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

var _ keel.Client = (*keel.Store)(nil)
