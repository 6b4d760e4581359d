package keel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUnknownOutcomeIsReported stops both followers of a 3-member cluster:
// a write the leader proposes can no longer commit, so when its context
// expires the caller must hear "outcome unknown" (ErrTimeout), never
// success or a definite failure. Once the quorum is back, the entry may
// commit after all, which is exactly why it was reported as unknown.
func TestUnknownOutcomeIsReported(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testCtx(t)
	_, err := c.stores[0].Put(ctx, "warm", "up")
	require.NoError(t, err)
	l := c.leader()
	f1 := c.follower()
	f2 := c.follower(f1)
	c.stop(f1)
	c.stop(f2)

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = c.stores[l].Put(short, "k", "v")
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrTimeout) || errors.Is(err, ErrNoLeader), "got %v", err)
	if errors.Is(err, ErrNoLeader) {
		// The leader stepped down before the put was proposed: nothing was
		// written, and the error must say so.
		require.NotErrorIs(t, err, ErrTimeout)
	}

	// With no quorum, reads cannot be confirmed either.
	short2, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	_, err = c.stores[l].Get(short2, "warm")
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrTimeout) || errors.Is(err, ErrNoLeader), "got %v", err)
	// Serializable reads still work from local state.
	gr, err := c.stores[l].Get(ctx, "warm", WithSerializable())
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 1)

	c.start(f1)
	c.start(f2)
	_, err = c.stores[l].Put(ctx, "after", "quorum")
	require.NoError(t, err)
	c.waitConverged()
}

func TestNoLeaderOnIsolatedFollower(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testCtx(t)
	_, err := c.stores[0].Put(ctx, "warm", "up")
	require.NoError(t, err)
	l := c.leader()
	f1 := c.follower()
	f2 := c.follower(f1)
	// Crash-stop (no leadership hand-over): first a follower, so the leader
	// keeps its quorum meanwhile, then the leader.
	c.crash(f2)
	c.crash(l)
	// f1 alone cannot elect a leader: its writes are certainly not applied.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = c.stores[f1].Put(short, "k", "v")
	require.ErrorIs(t, err, ErrNoLeader)
	require.NotErrorIs(t, err, ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestClosedStore(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir()})
	require.NoError(t, err)
	ctx := testCtx(t)
	_, err = s.Put(ctx, "k", "v")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = s.Put(ctx, "k", "v")
	require.ErrorIs(t, err, ErrStopped)
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, ErrStopped)
	_, err = s.Get(ctx, "k", WithSerializable())
	require.ErrorIs(t, err, ErrStopped)
}

func TestOpenConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no dir", cfg: Config{}},
		{name: "peers without id", cfg: Config{Dir: t.TempDir(), Peers: []Peer{{ID: "a", Addr: "127.0.0.1:1"}}}},
		{name: "id not in peers", cfg: Config{Dir: t.TempDir(), ID: "b", Peers: []Peer{{ID: "a", Addr: "127.0.0.1:1"}}}},
		{name: "duplicate peer", cfg: Config{Dir: t.TempDir(), ID: "a", Peers: []Peer{{ID: "a", Addr: "127.0.0.1:1"}, {ID: "a", Addr: "127.0.0.1:2"}}}},
		{name: "peer without addr", cfg: Config{Dir: t.TempDir(), ID: "a", Peers: []Peer{{ID: "a"}}}},
		{name: "lease above heartbeat", cfg: Config{Dir: t.TempDir(), HeartbeatTimeout: time.Second, LeaderLeaseTimeout: 2 * time.Second}},
		{name: "too many append entries", cfg: Config{Dir: t.TempDir(), MaxAppendEntries: 5000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	// A Dir remembers its member: reopening it as another member fails.
	s, err := Open(Config{Dir: dir, ID: "one"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = Open(Config{Dir: dir, ID: "two"})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestSingleNodeReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	s, err := Open(Config{Dir: dir})
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		_, err := s.Put(ctx, k, k)
		require.NoError(t, err)
	}
	_, err = s.Delete(ctx, "b")
	require.NoError(t, err)
	id := s.id
	require.NoError(t, s.Close())

	s, err = Open(Config{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, id, s.id)
	gr, err := s.Get(ctx, "", WithPrefix())
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c"}, keys(gr.Kvs))
	require.Equal(t, int64(5), gr.Header.Revision)
	pr, err := s.Put(ctx, "d", "d")
	require.NoError(t, err)
	require.Equal(t, int64(6), pr.Header.Revision)
}
