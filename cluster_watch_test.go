package keel_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// TestClusterWatchFollowersSeeLeaderHistory watches on every member while
// writes go to every member and the leader changes; each member's watcher
// must deliver exactly the same events, and a watcher on a surviving
// member keeps going across the leader change.
func TestClusterWatchFollowersSeeLeaderHistory(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	watches := make([]keel.WatchChan, 3)
	for i, s := range c.Members() {
		watches[i] = s.Watch(ctx, "w/", keel.WithPrefix(), keel.WithPrevKV())
	}
	write := func(from, n int) {
		for i := range n {
			s := c.Member((from + i) % 3)
			if s == nil {
				s = c.Leader()
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
	old := c.Index(c.Leader())
	c.Stop(old)
	write(100, 30)

	// Events come from the leader's history on each member; compare the
	// survivors with each other and with a replay from revision 2.
	survivors := []int{(old + 1) % 3, (old + 2) % 3}
	gr, err := c.Member(survivors[0]).Get(ctx, "w/", keel.WithPrefix())
	require.NoError(t, err)
	rev := gr.Header.Revision
	replay := c.Member(survivors[0]).Watch(ctx, "w/", keel.WithPrefix(), keel.WithPrevKV(), keel.WithRev(2))
	var want []keel.EventRecord
	for len(want) == 0 || want[len(want)-1].Mod < rev {
		want = append(want, keel.Collect(t, replay, 1)...)
	}
	for _, i := range survivors {
		require.Equal(t, want, keel.Collect(t, watches[i], len(want)), "member %d", i)
	}
	// The stopped member's watch channel was closed by Close.
	for range watches[old] {
	}
	// It restarts on its data, and a new watcher there replays the same
	// history.
	c.Restart(old)
	_, err = c.Member(old).Get(ctx, "w/", keel.WithPrefix()) // catch up
	require.NoError(t, err)
	again := c.Member(old).Watch(ctx, "w/", keel.WithPrefix(), keel.WithPrevKV(), keel.WithRev(2))
	require.Equal(t, want, keel.Collect(t, again, len(want)))
	converge(t, c)
}

// TestClusterWatchResumesAfterSnapshotCatchUp stops a follower that was
// watching, lets the leader compact its log past it, and restarts it: it
// catches up by installing a snapshot, and a watch resumed from the last
// revision it saw (etcd's resume rule) delivers every later revision in
// order, from the installed history. (mvcc's own tests cover a watcher that
// stays open across a restore.)
func TestClusterWatchResumesAfterSnapshotCatchUp(t *testing.T) {
	c := keeltest.NewCluster(t, 3, keeltest.WithConfig(func(_ int, cfg *keel.Config) {
		cfg.SnapshotThreshold = 20
		cfg.TrailingLogs = 5
	}))
	ctx := t.Context()
	lag := c.Index(c.Follower())
	l := c.Leader()
	wch := c.Member(lag).Watch(ctx, "s/", keel.WithPrefix())
	pr, err := l.Put(ctx, "s/first", "1")
	require.NoError(t, err)
	first := keel.Collect(t, wch, 1)
	require.Equal(t, pr.Header.Revision, first[0].Mod)
	c.Stop(lag)
	for range wch {
	}
	for i := range 60 {
		_, err := l.Put(ctx, fmt.Sprintf("s/%02d", i), strconv.Itoa(i))
		require.NoError(t, err)
	}
	require.NoError(t, l.RaftSnapshot())
	c.Restart(lag)
	resumed := c.Member(lag).Watch(ctx, "s/", keel.WithPrefix(), keel.WithRev(pr.Header.Revision+1))
	got := keel.Collect(t, resumed, 60)
	for i, e := range got {
		require.Equal(t, fmt.Sprintf("s/%02d", i), e.Key)
	}
	snaps, err := c.Member(lag).RaftSnapshots()
	require.NoError(t, err)
	require.NotZero(t, snaps, "the member should have caught up through a snapshot")
}
