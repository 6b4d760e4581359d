package keel

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClusterWritesOnEveryMember(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testCtx(t)
	for i, s := range c.stores {
		key := fmt.Sprintf("k%d", i)
		pr, err := s.Put(ctx, key, fmt.Sprintf("from-%d", i))
		require.NoError(t, err)
		// A linearizable read on the next member sees the write at once.
		other := c.stores[(i+1)%3]
		gr, err := other.Get(ctx, key)
		require.NoError(t, err)
		require.Len(t, gr.Kvs, 1)
		require.Equal(t, fmt.Sprintf("from-%d", i), string(gr.Kvs[0].Value))
		require.Equal(t, pr.Header.Revision, gr.Kvs[0].ModRevision)
		require.GreaterOrEqual(t, gr.Header.Revision, pr.Header.Revision)
	}
	// A txn forwarded from a follower returns the leader's result.
	f := c.stores[c.follower()]
	tr, err := f.Txn(ctx).If(Compare(Value("k0"), "=", "from-0")).
		Then(OpPut("k0", "swapped", WithPrevKV()), OpGet("k1")).Else(OpGet("k0")).Commit()
	require.NoError(t, err)
	require.True(t, tr.Succeeded)
	require.Len(t, tr.Responses, 2)
	require.Equal(t, "from-0", string(tr.Responses[0].Put().PrevKv.Value))
	require.Equal(t, "from-1", string(tr.Responses[1].Get().Kvs[0].Value))
	require.Equal(t, c.stores[0].id.ClusterID, tr.Header.ClusterID)
	require.Equal(t, f.memberID, tr.Header.MemberID)
	// A deterministic apply error crosses the wire as the same sentinel.
	_, err = f.Put(ctx, "missing", "", WithIgnoreValue())
	require.ErrorIs(t, err, ErrKeyNotFound)
	c.waitConverged()
}

func TestClusterLeaderStopAndRestart(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testCtx(t)
	for i := range 10 {
		_, err := c.stores[i%3].Put(ctx, fmt.Sprintf("before/%02d", i), "v")
		require.NoError(t, err)
	}
	old := c.leader()
	oldTerm := c.stores[old].raft.CurrentTerm()
	c.stop(old)

	// The survivors elect a new leader and keep taking writes.
	nl := c.leader()
	require.NotEqual(t, old, nl)
	require.Greater(t, c.stores[nl].raft.CurrentTerm(), oldTerm)
	for i := range 10 {
		s := c.stores[(old+1+i%2)%3]
		_, err := s.Put(ctx, fmt.Sprintf("after/%02d", i), "v")
		require.NoError(t, err)
	}

	// The old leader restarts on its data and catches up.
	c.start(old)
	gr, err := c.stores[old].Get(ctx, "after/", WithPrefix(), WithCountOnly())
	require.NoError(t, err)
	require.Equal(t, int64(10), gr.Count)
	gr, err = c.stores[old].Get(ctx, "before/", WithPrefix(), WithCountOnly())
	require.NoError(t, err)
	require.Equal(t, int64(10), gr.Count)
	c.waitConverged()
}

func TestClusterFollowerCatchesUpViaSnapshot(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold = 50
		cfg.TrailingLogs = 10
		cfg.SnapshotInterval = time.Hour // snapshots are taken explicitly below
	})
	ctx := testCtx(t)
	lag := c.follower()
	c.stop(lag)
	l := c.stores[c.leader()]
	for i := range 200 {
		_, err := l.Put(ctx, fmt.Sprintf("k/%03d", i), fmt.Sprintf("v%d", i))
		require.NoError(t, err)
	}
	require.NoError(t, l.raft.Snapshot().Error())
	first, err := l.wal.FirstIndex()
	require.NoError(t, err)
	require.Greater(t, first, uint64(50), "leader log was not compacted")

	c.start(lag)
	s := c.stores[lag]
	gr, err := s.Get(ctx, "k/", WithPrefix())
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 200)
	require.Equal(t, "v199", string(gr.Kvs[199].Value))
	snaps, err := s.snaps.List()
	require.NoError(t, err)
	require.NotEmpty(t, snaps, "the lagging member did not install a snapshot")
	c.waitConverged()
}

func TestClusterWholeRestartKeepsAcknowledgedWrites(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testCtx(t)
	acked := map[string]int64{}
	for i := range 30 {
		key := fmt.Sprintf("key/%02d", i)
		pr, err := c.stores[i%3].Put(ctx, key, key)
		require.NoError(t, err)
		acked[key] = pr.Header.Revision
	}
	rev := c.stores[c.leader()].kv.Rev()
	for i := range c.stores {
		c.stop(i)
	}
	for i := range c.stores {
		c.start(i)
	}
	for i, s := range c.stores {
		gr, err := s.Get(ctx, "key/", WithPrefix())
		require.NoError(t, err, "member %d", i)
		require.Len(t, gr.Kvs, len(acked))
		for _, kv := range gr.Kvs {
			require.Equal(t, acked[string(kv.Key)], kv.ModRevision)
		}
		require.GreaterOrEqual(t, gr.Header.Revision, rev)
	}
	c.waitConverged()
}
