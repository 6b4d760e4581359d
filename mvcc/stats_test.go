package mvcc

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWatchStats follows a stalled watcher: it becomes unsynced holding
// the one response its sink refused, lags by every revision since, and
// counts nothing once it has caught up.
func TestWatchStats(t *testing.T) {
	s, _ := openStore(t, Config{WatchSyncInterval: time.Millisecond})
	require.Equal(t, WatchStats{}, s.WatchStats())
	fast, slow := &testSink{}, &testSink{}
	mustWatch(t, s, "k", "", WatchOptions{}, fast)
	mustWatch(t, s, "k", "", WatchOptions{}, slow)
	require.Equal(t, WatchStats{Watchers: 2}, s.WatchStats())

	slow.setStalled(true)
	first := s.Rev() + 1
	putKVs(t, s, 1, "k", "a", "other", "x") // one revision, two events, one for k
	putKVs(t, s, 2, "k", "b")
	putKVs(t, s, 3, "unwatched", "c")
	require.Equal(t, WatchStats{Watchers: 2, Unsynced: 1, PendingEvents: 1, MaxLag: s.Rev() - first + 1}, s.WatchStats())

	slow.setStalled(false)
	waitFor(t, "the slow watcher to catch up", func() bool { return s.WatchStats() == WatchStats{Watchers: 2} })
	require.Len(t, slow.events(), 2)
	require.Len(t, fast.events(), 2)
}

// TestObserveCommit checks that the committer's bbolt commits are
// reported.
func TestObserveCommit(t *testing.T) {
	var commits atomic.Int64
	s, _ := openStore(t, Config{CommitInterval: time.Hour, ObserveCommit: func(d time.Duration) {
		require.GreaterOrEqual(t, d, time.Duration(0))
		commits.Add(1)
	}})
	before := commits.Load()
	putKVs(t, s, 1, "a", "1")
	require.NoError(t, s.ForceCommit())
	require.Equal(t, before+1, commits.Load())
	require.NoError(t, s.ForceCommit()) // nothing pending: no commit
	require.Equal(t, before+1, commits.Load())
}
