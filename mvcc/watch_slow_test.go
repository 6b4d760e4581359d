package mvcc

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWatchSlowConsumer: a watcher that never reads does not block writes
// or a fast watcher, holds at most one response inside the store, and
// catches up exactly once its consumer reads again.
func TestWatchSlowConsumer(t *testing.T) {
	s, _ := openStore(t, Config{WatchBatchMaxRevs: 50, WatchSyncInterval: time.Millisecond})
	stalled, fast := &testSink{capacity: 4}, &testSink{}
	mustWatch(t, s, "k/", "k0", WatchOptions{PrevKV: true}, stalled)
	mustWatch(t, s, "k/", "k0", WatchOptions{PrevKV: true}, fast)
	const n = 500
	for i := range n {
		putKVs(t, s, uint64(i+1), fmt.Sprintf("k/%d", i%7), fmt.Sprint(i))
	}
	require.EqualValues(t, n+1, s.Rev())
	want := waitEventsTo(t, fast, n+1)
	require.Len(t, want, n, "the fast watcher got every event")

	// The stalled watcher: its sink buffer (4) plus one held response.
	_, unsynced := s.watchersCount()
	require.Equal(t, 1, unsynced)
	s.watch.mu.Lock()
	for w := range s.watch.unsynced {
		require.NotNil(t, w.held)
		require.Len(t, w.held.Events, 1, "a live response held: one revision")
	}
	s.watch.mu.Unlock()
	stalled.mu.Lock()
	require.Len(t, stalled.buf, 4)
	stalled.mu.Unlock()

	// Reading again: it catches up from history, then is synced.
	var got []*Event
	waitFor(t, "catch-up", func() bool {
		got = stalled.events()
		return lastRev(got) == n+1
	})
	checkResponses(t, stalled.drain())
	require.Equal(t, want, got)
	for _, r := range stalled.drain() {
		require.LessOrEqual(t, len(r.Events), 50, "catch-up responses are bounded")
	}
	waitFor(t, "synced", func() bool { _, u := s.watchersCount(); return u == 0 })
}

// TestWatchRestore: after a follower installs a snapshot, every watcher
// continues from its next revision against the restored history; one the
// restored store compacted past is canceled with CompactRevision.
func TestWatchRestore(t *testing.T) {
	leader, _ := openStore(t, Config{})
	follower, _ := openStore(t, Config{WatchSyncInterval: time.Millisecond})
	var index uint64
	apply := func(both bool, kvs ...string) {
		index++
		putKVs(t, leader, index, kvs...)
		if both {
			putKVs(t, follower, index, kvs...)
		}
	}
	apply(true, "a", "1") // 2
	apply(true, "b", "1") // 3
	synced, behind, idle, future := &testSink{}, &testSink{}, &testSink{}, &testSink{}
	mustWatch(t, follower, "\x00", "\x00", WatchOptions{PrevKV: true}, synced)
	mustWatch(t, follower, "a", "", WatchOptions{StartRev: 2}, behind)
	mustWatch(t, follower, "b", "", WatchOptions{StartRev: 3}, idle)
	mustWatch(t, follower, "a", "", WatchOptions{StartRev: 7}, future)
	waitEventsTo(t, behind, 2)
	waitEventsTo(t, idle, 3)
	behind.setStalled(true)
	apply(true, "a", "2")  // 4: synced gets it, behind holds it, idle is not interested
	apply(false, "b", "2") // 5: the follower misses the rest
	apply(false, "a", "3") // 6
	apply(false, "a", "4") // 7
	index++
	tx := leader.Write(index)
	_, err := tx.Compact(5)
	require.NoError(t, err)
	tx.End()
	apply(false, "b", "3") // 8

	snap, _ := snapshotBytes(t, leader)
	require.NoError(t, follower.Restore(bytes.NewReader(snap)))
	behind.setStalled(false)
	apply(true, "a", "5") // 9, live on both

	// The synced watcher saw 4 live, then 5..9 from the restored
	// history and live, exactly the leader's history.
	leaderAll := &testSink{}
	mustWatch(t, leader, "\x00", "\x00", WatchOptions{StartRev: 5, PrevKV: true}, leaderAll)
	wantTail := waitEventsTo(t, leaderAll, 9)
	got := waitEventsTo(t, synced, 9)
	require.Len(t, got, 6)
	require.EqualValues(t, 4, got[0].Kv.ModRevision)
	require.Equal(t, wantTail, got[1:])
	checkResponses(t, synced.drain())

	// behind: its held response (4) was dropped by the restore, so it
	// needs 4, below the restored compaction revision 5: canceled.
	waitFor(t, "behind canceled", func() bool { return behind.closeCount() == 1 })
	rs := behind.drain()
	require.EqualValues(t, 5, rs[len(rs)-1].CompactRevision)
	var revs []int64
	for _, r := range rs {
		for _, ev := range r.Events {
			revs = append(revs, ev.Kv.ModRevision)
		}
	}
	require.Equal(t, []int64{2}, revs)

	// idle was synced through 4 (nothing of "b" changed there), so it
	// continues at 5 and is not canceled.
	evs := waitEventsTo(t, idle, 8)
	require.Equal(t, []int64{3, 5, 8}, []int64{evs[0].Kv.ModRevision, evs[1].Kv.ModRevision, evs[2].Kv.ModRevision})
	require.Zero(t, idle.closeCount())

	// future: starts at 7, gets 7 and 9 on "a".
	evs = waitEventsTo(t, future, 9)
	require.Equal(t, []int64{7, 9}, []int64{evs[0].Kv.ModRevision, evs[1].Kv.ModRevision})
	require.Zero(t, future.closeCount())
	require.Zero(t, synced.closeCount())
}

// BenchmarkWatchSlowConsumer measures writes/s and a fast watcher's
// events/s with and without a stalled watcher on the same keys.
func BenchmarkWatchSlowConsumer(b *testing.B) {
	for _, stalledToo := range []bool{false, true} {
		b.Run(fmt.Sprintf("stalled=%v", stalledToo), func(b *testing.B) {
			s, _ := openStore(b, Config{noSync: true})
			fast := &countSink{}
			if _, err := s.Watch([]byte("k/"), []byte("k0"), WatchOptions{}, fast); err != nil {
				b.Fatal(err)
			}
			if stalledToo {
				if _, err := s.Watch([]byte("k/"), []byte("k0"), WatchOptions{PrevKV: true}, &testSink{stalled: true}); err != nil {
					b.Fatal(err)
				}
			}
			keys := make([][]byte, 64)
			for i := range keys {
				keys[i] = []byte(fmt.Sprintf("k/%03d", i))
			}
			val := make([]byte, 128)
			start := time.Now()
			n := 0
			for b.Loop() {
				n++
				tx := s.Write(uint64(n))
				tx.Put(keys[n%len(keys)], val, 0)
				tx.End()
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(n)/el, "writes/s")
			b.ReportMetric(float64(fast.events.Load())/el, "fast-events/s")
			if fast.events.Load() != int64(n) {
				b.Fatalf("fast watcher got %d of %d events", fast.events.Load(), n)
			}
		})
	}
}

// countSink counts events and never refuses.
type countSink struct{ events atomic.Int64 }

func (c *countSink) Send(r WatchResponse) bool { c.events.Add(int64(len(r.Events))); return true }
func (c *countSink) Close()                    {}
