package mvcc

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWatchValidation(t *testing.T) {
	s, _ := openStore(t, Config{})
	for _, tc := range []struct {
		name     string
		key, end []byte
		opts     WatchOptions
		sink     WatchSink
		wantErr  error
	}{
		{"negative start", []byte("a"), nil, WatchOptions{StartRev: -1}, &testSink{}, ErrInvalidWatch},
		{"nil sink", []byte("a"), nil, WatchOptions{}, nil, ErrInvalidWatch},
		{"end before key", []byte("b"), []byte("a"), WatchOptions{}, &testSink{}, ErrInvalidWatch},
		{"end equals key", []byte("b"), []byte("b"), WatchOptions{}, &testSink{}, ErrInvalidWatch},
		{"empty key is \\x00", nil, nil, WatchOptions{}, &testSink{}, nil},
		{"future start", []byte("a"), nil, WatchOptions{StartRev: 100}, &testSink{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := s.Watch(tc.key, tc.end, tc.opts, tc.sink)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Nil(t, w)
				return
			}
			require.NoError(t, err)
			w.Cancel()
		})
	}
	require.NoError(t, s.Close())
	_, err := s.Watch([]byte("a"), nil, WatchOptions{}, &testSink{})
	require.ErrorIs(t, err, ErrClosed)
}

func TestWatchRanges(t *testing.T) {
	for _, tc := range []struct {
		name     string
		key, end string
		want     []string
	}{
		{"single key", "ab", "", []string{"ab"}},
		{"prefix", "ab", "ac", []string{"ab", "abc"}},
		{"range", "ab", "b", []string{"ab", "abc"}},
		{"range not a prefix", "a\x00", "ba", []string{"a\x00", "ab", "abc", "b"}},
		{"from key", "b", "\x00", []string{"b", "ba", "\xff"}},
		{"all keys", "\x00", "\x00", []string{"a", "a\x00", "ab", "abc", "b", "ba", "\xff"}},
		{"prefix of \\xff", "\xff", "\x00", []string{"\xff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t, Config{})
			k := &testSink{}
			mustWatch(t, s, tc.key, tc.end, WatchOptions{}, k)
			var i uint64
			for _, key := range []string{"a", "a\x00", "ab", "abc", "b", "ba", "\xff"} {
				i++
				putKVs(t, s, i, key, "v")
			}
			var got []string
			for _, ev := range k.events() {
				got = append(got, string(ev.Kv.Key))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestWatchStartRevisions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		start    int64
		wantRevs []int64
	}{
		{"past replays history", 3, []int64{3, 4, 5, 6, 7, 8}},
		{"current revision", 6, []int64{6, 7, 8}},
		{"now", 0, []int64{7, 8}},
		{"future", 8, []int64{8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t, Config{})
			for i := uint64(1); i <= 5; i++ { // revisions 2..6
				putKVs(t, s, i, "k", fmt.Sprint(i))
			}
			k := &testSink{}
			w := mustWatch(t, s, "k", "", WatchOptions{StartRev: tc.start}, k)
			require.NotZero(t, w.ID())
			putKVs(t, s, 6, "k", "x") // 7
			putKVs(t, s, 7, "k", "y") // 8
			var revs []int64
			for _, ev := range waitEventsTo(t, k, 8) {
				revs = append(revs, ev.Kv.ModRevision)
			}
			require.Equal(t, tc.wantRevs, revs)
		})
	}
}

func TestWatchEventsAndPrevKV(t *testing.T) {
	s, _ := openStore(t, Config{})
	live := &testSink{}
	mustWatch(t, s, "\x00", "\x00", WatchOptions{PrevKV: true}, live)
	putKVs(t, s, 1, "a", "1", "b", "1") // rev 2
	putKVs(t, s, 2, "a", "2")           // rev 3
	deleteRange(t, s, 3, "a", "c")      // rev 4
	putKVs(t, s, 4, "a", "3")           // rev 5
	catchUp := &testSink{}
	mustWatch(t, s, "\x00", "\x00", WatchOptions{StartRev: 2, PrevKV: true}, catchUp)
	noPrev := &testSink{}
	mustWatch(t, s, "\x00", "\x00", WatchOptions{StartRev: 2}, noPrev)

	want := []*Event{
		{Type: EventTypePut, Kv: kvOf("a", "1", 2, 2, 1, 0)},
		{Type: EventTypePut, Kv: kvOf("b", "1", 2, 2, 1, 0)},
		{Type: EventTypePut, Kv: kvOf("a", "2", 2, 3, 2, 0), PrevKv: kvOf("a", "1", 2, 2, 1, 0)},
		{Type: EventTypeDelete, Kv: &KeyValue{Key: []byte("a"), ModRevision: 4}, PrevKv: kvOf("a", "2", 2, 3, 2, 0)},
		{Type: EventTypeDelete, Kv: &KeyValue{Key: []byte("b"), ModRevision: 4}, PrevKv: kvOf("b", "1", 2, 2, 1, 0)},
		{Type: EventTypePut, Kv: kvOf("a", "3", 5, 5, 1, 0)},
	}
	require.Equal(t, want, live.events())
	require.Equal(t, want, waitEventsTo(t, catchUp, 5))
	got := waitEventsTo(t, noPrev, 5)
	for i, ev := range got {
		require.Nil(t, ev.PrevKv)
		require.Equal(t, want[i].Kv, ev.Kv)
	}
	// One revision is one response.
	rs := live.drain()
	require.Len(t, rs, 4)
	require.Len(t, rs[0].Events, 2)
	require.EqualValues(t, 2, rs[0].Revision)

	require.True(t, want[0].IsCreate())
	require.False(t, want[0].IsModify())
	require.True(t, want[2].IsModify())
	require.False(t, want[2].IsCreate())
	require.False(t, want[3].IsCreate())
	require.False(t, want[3].IsModify())
}

func TestWatchCancelAndClose(t *testing.T) {
	s, _ := openStore(t, Config{})
	canceled, synced, behind := &testSink{}, &testSink{}, &testSink{stalled: true}
	w := mustWatch(t, s, "k", "", WatchOptions{}, canceled)
	mustWatch(t, s, "k", "", WatchOptions{}, synced)
	putKVs(t, s, 1, "k", "v")
	mustWatch(t, s, "k", "", WatchOptions{StartRev: 1}, behind)
	w.Cancel()
	w.Cancel()
	require.Equal(t, 1, canceled.closeCount(), "Cancel closes the sink synchronously, once")
	putKVs(t, s, 2, "k", "v")
	require.Len(t, canceled.events(), 1, "no event after Cancel")
	require.NoError(t, s.Close())
	require.Equal(t, 1, synced.closeCount())
	require.Equal(t, 1, behind.closeCount())
	require.Equal(t, 1, canceled.closeCount())
	w.Cancel()
	require.Equal(t, 1, canceled.closeCount())
}

func TestWatchProgress(t *testing.T) {
	s, _ := openStore(t, Config{WatchProgressInterval: 5 * time.Millisecond})
	periodic, plain, behind := &testSink{}, &testSink{}, &testSink{stalled: true}
	mustWatch(t, s, "a", "", WatchOptions{ProgressNotify: true}, periodic)
	mustWatch(t, s, "a", "", WatchOptions{}, plain)
	putKVs(t, s, 1, "b", "v") // rev 2, not in range
	mustWatch(t, s, "b", "", WatchOptions{StartRev: 2}, behind)

	waitFor(t, "periodic progress", func() bool {
		for _, r := range periodic.drain() {
			if r.IsProgressNotify() && r.Revision == 2 {
				return true
			}
		}
		return false
	})
	require.Empty(t, plain.drain(), "no periodic progress without ProgressNotify")
	s.RequestProgress()
	rs := plain.drain()
	require.Len(t, rs, 1)
	require.True(t, rs[0].IsProgressNotify())
	require.EqualValues(t, 2, rs[0].Revision)
	behind.setStalled(false)
	require.Empty(t, behind.drain(), "stalled watchers get no progress")
}

func TestWatchCompactedStart(t *testing.T) {
	s, _ := openStore(t, Config{WatchSyncInterval: time.Millisecond})
	for i := uint64(1); i <= 4; i++ {
		putKVs(t, s, i, "k", "v") // revisions 2..5
	}
	compact(t, s, 5, 4)
	for _, tc := range []struct {
		name    string
		start   int64
		stalled bool
	}{
		{"below compact rev", 3, false},
		{"below compact rev, sink full at first", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &testSink{stalled: tc.stalled}
			mustWatch(t, s, "k", "", WatchOptions{StartRev: tc.start}, k)
			if tc.stalled {
				require.Zero(t, k.closeCount(), "kept until Send accepts")
				k.setStalled(false)
			}
			waitFor(t, "close", func() bool { return k.closeCount() == 1 })
			rs := k.drain()
			require.Equal(t, []WatchResponse{{Revision: 5, CompactRevision: 4}}, rs)
		})
	}
	k := &testSink{}
	mustWatch(t, s, "k", "", WatchOptions{StartRev: 4}, k)
	evs := waitEventsTo(t, k, 5)
	require.EqualValues(t, 4, evs[0].Kv.ModRevision, "watching from the compaction revision works")
}

// TestWatchCompactionUnderWatch: a watcher behind the compaction revision
// is canceled with CompactRevision; a synced one is not.
func TestWatchCompactionUnderWatch(t *testing.T) {
	s, _ := openStore(t, Config{WatchSyncInterval: time.Millisecond})
	synced, behind := &testSink{}, &testSink{}
	mustWatch(t, s, "k", "", WatchOptions{}, synced)
	mustWatch(t, s, "k", "", WatchOptions{}, behind)
	putKVs(t, s, 1, "k", "1") // rev 2: both get it
	behind.setStalled(true)
	for i := uint64(2); i <= 5; i++ {
		putKVs(t, s, i, "k", "v") // revs 3..6: behind holds rev 3, misses the rest
	}
	compact(t, s, 6, 5)
	behind.setStalled(false)
	waitFor(t, "behind canceled", func() bool { return behind.closeCount() == 1 })
	rs := behind.drain()
	last := rs[len(rs)-1]
	require.EqualValues(t, 5, last.CompactRevision)
	require.Empty(t, last.Events)
	// It saw 2 and its held response (3), then needed 4 < 5.
	var revs []int64
	for _, r := range rs {
		for _, ev := range r.Events {
			revs = append(revs, ev.Kv.ModRevision)
		}
	}
	require.Equal(t, []int64{2, 3}, revs)

	putKVs(t, s, 7, "k", "after")
	evs := waitEventsTo(t, synced, 7)
	require.Len(t, evs, 6)
	require.Zero(t, synced.closeCount())
}

// compact runs Compact(rev) in the write txn of index and waits for the
// physical deletion.
func compact(tb testing.TB, s *Store, index uint64, rev int64) {
	tb.Helper()
	tx := s.Write(index)
	done, err := tx.Compact(rev)
	require.NoError(tb, err)
	tx.End()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		tb.Fatal("physical compaction did not finish")
	}
}
