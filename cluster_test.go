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

// The cluster tests run on package keeltest, in package keel_test (keeltest
// imports keel). What they check of a member's internals goes through
// export_test.go.

// converge waits until every running member of c has applied the same
// entries and requires their state hashes to be equal.
func converge(tb testing.TB, c *keeltest.Cluster) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), keeltest.WaitLimit)
	defer cancel()
	require.NoError(tb, c.WaitConverged(ctx))
}

// status returns s's Status, failing tb if s cannot report it.
func status(tb testing.TB, s *keel.Store) *keel.StatusResponse {
	tb.Helper()
	st, err := s.Status(tb.Context(), "")
	require.NoError(tb, err)
	return st
}

// requireQuiet fails tb if wch delivers anything within d: for checks that
// something (a lease expiry) does not happen while time passes.
func requireQuiet(tb testing.TB, wch keel.WatchChan, d time.Duration, msg string) {
	tb.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case wr, ok := <-wch:
		tb.Fatalf("%s: the watch delivered %d events (open %v, err %v)", msg, len(wr.Events), ok, wr.Err())
	case <-timer.C:
	}
}

func TestClusterWritesOnEveryMember(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	members := c.Members()
	for i, s := range members {
		key := fmt.Sprintf("k%d", i)
		pr, err := s.Put(ctx, key, fmt.Sprintf("from-%d", i))
		require.NoError(t, err)
		// A linearizable read on the next member sees the write at once.
		other := members[(i+1)%3]
		gr, err := other.Get(ctx, key)
		require.NoError(t, err)
		require.Len(t, gr.Kvs, 1)
		require.Equal(t, fmt.Sprintf("from-%d", i), string(gr.Kvs[0].Value))
		require.Equal(t, pr.Header.Revision, gr.Kvs[0].ModRevision)
		require.GreaterOrEqual(t, gr.Header.Revision, pr.Header.Revision)
	}
	// A txn forwarded from a follower returns the leader's result.
	f := c.Follower()
	tr, err := f.Txn(ctx).If(keel.Compare(keel.Value("k0"), "=", "from-0")).
		Then(keel.OpPut("k0", "swapped", keel.WithPrevKV()), keel.OpGet("k1")).Else(keel.OpGet("k0")).Commit()
	require.NoError(t, err)
	require.True(t, tr.Succeeded)
	require.Len(t, tr.Responses, 2)
	require.Equal(t, "from-0", string(tr.Responses[0].Put().PrevKv.Value))
	require.Equal(t, "from-1", string(tr.Responses[1].Get().Kvs[0].Value))
	require.Equal(t, status(t, members[0]).Header.ClusterId, tr.Header.ClusterId)
	require.Equal(t, status(t, f).Header.MemberId, tr.Header.MemberId)
	// A deterministic apply error crosses the wire as the same sentinel.
	_, err = f.Put(ctx, "missing", "", keel.WithIgnoreValue())
	require.ErrorIs(t, err, keel.ErrKeyNotFound)
	converge(t, c)
}

func TestClusterLeaderStopAndRestart(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	for i := range 10 {
		_, err := c.Member(i%3).Put(ctx, fmt.Sprintf("before/%02d", i), "v")
		require.NoError(t, err)
	}
	old := c.Index(c.Leader())
	oldTerm := status(t, c.Member(old)).Header.RaftTerm
	c.Stop(old)

	// The survivors elect a new leader and keep taking writes.
	nl := c.Index(c.Leader())
	require.NotEqual(t, old, nl)
	require.Greater(t, status(t, c.Member(nl)).Header.RaftTerm, oldTerm)
	for i := range 10 {
		s := c.Member((old + 1 + i%2) % 3)
		_, err := s.Put(ctx, fmt.Sprintf("after/%02d", i), "v")
		require.NoError(t, err)
	}

	// The old leader restarts on its data and catches up.
	c.Restart(old)
	gr, err := c.Member(old).Get(ctx, "after/", keel.WithPrefix(), keel.WithCountOnly())
	require.NoError(t, err)
	require.Equal(t, int64(10), gr.Count)
	gr, err = c.Member(old).Get(ctx, "before/", keel.WithPrefix(), keel.WithCountOnly())
	require.NoError(t, err)
	require.Equal(t, int64(10), gr.Count)
	converge(t, c)
}

func TestClusterFollowerCatchesUpViaSnapshot(t *testing.T) {
	c := keeltest.NewCluster(t, 3, keeltest.WithConfig(func(_ int, cfg *keel.Config) {
		cfg.SnapshotThreshold = 50
		cfg.TrailingLogs = 10
		cfg.SnapshotInterval = time.Hour // snapshots are taken explicitly below
	}))
	ctx := t.Context()
	lag := c.Index(c.Follower())
	c.Stop(lag)
	l := c.Leader()
	for i := range 200 {
		_, err := l.Put(ctx, fmt.Sprintf("k/%03d", i), fmt.Sprintf("v%d", i))
		require.NoError(t, err)
	}
	require.NoError(t, l.RaftSnapshot())
	first, err := l.FirstLogIndex()
	require.NoError(t, err)
	require.Greater(t, first, uint64(50), "leader log was not compacted")

	c.Restart(lag)
	s := c.Member(lag)
	gr, err := s.Get(ctx, "k/", keel.WithPrefix())
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 200)
	require.Equal(t, "v199", string(gr.Kvs[199].Value))
	snaps, err := s.RaftSnapshots()
	require.NoError(t, err)
	require.NotZero(t, snaps, "the lagging member did not install a snapshot")
	converge(t, c)
	requireSnapshotMetrics(t, c, lag)
}

func TestClusterWholeRestartKeepsAcknowledgedWrites(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	acked := map[string]int64{}
	for i := range 30 {
		key := fmt.Sprintf("key/%02d", i)
		pr, err := c.Member(i%3).Put(ctx, key, key)
		require.NoError(t, err)
		acked[key] = pr.Header.Revision
	}
	rev := status(t, c.Leader()).Header.Revision
	for i := range 3 {
		c.Stop(i)
	}
	for i := range 3 {
		c.Restart(i)
	}
	for i, s := range c.Members() {
		gr, err := s.Get(ctx, "key/", keel.WithPrefix())
		require.NoError(t, err, "member %d", i)
		require.Len(t, gr.Kvs, len(acked))
		for _, kv := range gr.Kvs {
			require.Equal(t, acked[string(kv.Key)], kv.ModRevision)
		}
		require.GreaterOrEqual(t, gr.Header.Revision, rev)
	}
	converge(t, c)
}
