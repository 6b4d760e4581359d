package keel

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClusterWatchFollowersSeeLeaderHistory watches on every member while
// writes go to every member and the leader changes; each member's watcher
// must deliver exactly the same events, and a watcher on a surviving
// member keeps going across the leader change.
func TestClusterWatchFollowersSeeLeaderHistory(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testCtx(t)
	watches := make([]WatchChan, 3)
	for i, s := range c.stores {
		watches[i] = s.Watch(ctx, "w/", WithPrefix(), WithPrevKV())
	}
	write := func(from, n int) {
		for i := range n {
			s := c.stores[(from+i)%3]
			if s == nil {
				s = c.stores[c.leader()]
			}
			var err error
			if i%5 == 4 {
				_, err = s.Delete(ctx, fmt.Sprintf("w/%d", (from+i)%4))
			} else {
				_, err = s.Put(ctx, fmt.Sprintf("w/%d", (from+i)%4), strconv.Itoa(from+i))
			}
			require.NoError(t, err)
		}
	}
	write(0, 30)
	old := c.leader()
	c.stop(old)
	write(100, 30)

	// Events come from the leader's history on each member; compare the
	// survivors with each other and with a replay from revision 2.
	survivors := []int{(old + 1) % 3, (old + 2) % 3}
	gr, err := c.stores[survivors[0]].Get(ctx, "w/", WithPrefix())
	require.NoError(t, err)
	rev := gr.Header.Revision
	replay := c.stores[survivors[0]].Watch(ctx, "w/", WithPrefix(), WithPrevKV(), WithRev(2))
	var want []eventRecord
	for len(want) == 0 || want[len(want)-1].Mod < rev {
		want = append(want, collect(t, replay, 1)...)
	}
	for _, i := range survivors {
		require.Equal(t, want, collect(t, watches[i], len(want)), "member %d", i)
	}
	// The stopped member's watch channel was closed by Close.
	for range watches[old] {
	}
	// It restarts on its data, and a new watcher there replays the same
	// history.
	c.start(old)
	_, err = c.stores[old].Get(ctx, "w/", WithPrefix()) // catch up
	require.NoError(t, err)
	again := c.stores[old].Watch(ctx, "w/", WithPrefix(), WithPrevKV(), WithRev(2))
	require.Equal(t, want, collect(t, again, len(want)))
	c.waitConverged()
}

// TestClusterWatchResumesAfterSnapshotCatchUp stops a follower that was
// watching, lets the leader compact its log past it, and restarts it: it
// catches up by installing a snapshot, and a watch resumed from the last
// revision it saw (etcd's resume rule) delivers every later revision in
// order, from the installed history. (mvcc's own tests cover a watcher that
// stays open across a restore.)
func TestClusterWatchResumesAfterSnapshotCatchUp(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold = 20
		cfg.TrailingLogs = 5
	})
	ctx := testCtx(t)
	lag := c.follower()
	l := c.leader()
	wch := c.stores[lag].Watch(ctx, "s/", WithPrefix())
	pr, err := c.stores[l].Put(ctx, "s/first", "1")
	require.NoError(t, err)
	first := collect(t, wch, 1)
	require.Equal(t, pr.Header.Revision, first[0].Mod)
	c.stop(lag)
	for range wch {
	}
	for i := range 60 {
		_, err := c.stores[l].Put(ctx, fmt.Sprintf("s/%02d", i), strconv.Itoa(i))
		require.NoError(t, err)
	}
	require.NoError(t, c.stores[l].raft.Snapshot().Error())
	c.start(lag)
	resumed := c.stores[lag].Watch(ctx, "s/", WithPrefix(), WithRev(pr.Header.Revision+1))
	got := collect(t, resumed, 60)
	for i, e := range got {
		require.Equal(t, fmt.Sprintf("s/%02d", i), e.Key)
	}
	snaps, err := c.stores[lag].snaps.List()
	require.NoError(t, err)
	require.NotEmpty(t, snaps, "the member should have caught up through a snapshot")
}
