package keel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// eventRecord is what a watcher saw of one event, comparable across
// members.
type eventRecord struct {
	Type    EventType
	Key     string
	Value   string
	Mod     int64
	Create  int64
	Version int64
	Prev    string
}

func recordOf(e *Event) eventRecord {
	r := eventRecord{Type: e.Type, Key: string(e.Kv.Key), Value: string(e.Kv.Value), Mod: e.Kv.ModRevision, Create: e.Kv.CreateRevision, Version: e.Kv.Version}
	if e.PrevKv != nil {
		r.Prev = string(e.PrevKv.Value)
	}
	return r
}

// collect reads wch until it has n events or the deadline passes, and
// checks the watch guarantees on the way: revisions strictly increase
// between responses, and within a response events never go back.
func collect(tb testing.TB, wch WatchChan, n int) []eventRecord {
	tb.Helper()
	var out []eventRecord
	var lastRev int64
	deadline := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case wr, ok := <-wch:
			require.True(tb, ok, "watch closed after %d of %d events", len(out), n)
			require.NoError(tb, wr.Err())
			if len(wr.Events) > 0 {
				first := wr.Events[0].Kv.ModRevision
				require.Greater(tb, first, lastRev, "revision %d delivered twice or out of order", first)
			}
			for _, e := range wr.Events {
				require.GreaterOrEqual(tb, e.Kv.ModRevision, lastRev)
				require.LessOrEqual(tb, e.Kv.ModRevision, wr.Header.Revision)
				lastRev = e.Kv.ModRevision
				out = append(out, recordOf(e))
			}
		case <-deadline:
			tb.Fatalf("got %d of %d events", len(out), n)
		}
	}
	return out
}

func TestWatchBasics(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	p1, err := s.Put(ctx, "a/1", "x")
	require.NoError(t, err)

	wctx, cancel := context.WithCancel(ctx)
	all := s.Watch(wctx, "a/", WithPrefix(), WithPrevKV(), WithCreatedNotify())
	created := <-all
	require.True(t, created.Created)
	puts := s.Watch(wctx, "a/", WithPrefix(), WithFilterDelete())
	dels := s.Watch(wctx, "a/", WithPrefix(), WithFilterPut())
	history := s.Watch(wctx, "a/1", WithRev(p1.Header.Revision))
	single := s.Watch(wctx, "a/2")

	_, err = s.Put(ctx, "a/2", "y")
	require.NoError(t, err)
	_, err = s.Put(ctx, "b", "ignored")
	require.NoError(t, err)
	_, err = s.Txn(ctx).Then(OpPut("a/1", "x2"), OpDelete("a/2")).Commit()
	require.NoError(t, err)

	got := collect(t, all, 3)
	require.Equal(t, []eventRecord{
		{Type: EventTypePut, Key: "a/2", Value: "y", Mod: 3, Create: 3, Version: 1},
		{Type: EventTypePut, Key: "a/1", Value: "x2", Mod: 5, Create: 2, Version: 2, Prev: "x"},
		{Type: EventTypeDelete, Key: "a/2", Mod: 5, Prev: "y"},
	}, got)
	require.Equal(t, []eventRecord{
		{Type: EventTypePut, Key: "a/2", Value: "y", Mod: 3, Create: 3, Version: 1},
		{Type: EventTypePut, Key: "a/1", Value: "x2", Mod: 5, Create: 2, Version: 2},
	}, collect(t, puts, 2))
	require.Equal(t, []eventRecord{{Type: EventTypeDelete, Key: "a/2", Mod: 5}}, collect(t, dels, 1))
	require.Equal(t, []eventRecord{
		{Type: EventTypePut, Key: "a/1", Value: "x", Mod: 2, Create: 2, Version: 1},
		{Type: EventTypePut, Key: "a/1", Value: "x2", Mod: 5, Create: 2, Version: 2},
	}, collect(t, history, 2))
	require.Len(t, collect(t, single, 2), 2)

	// Canceling ctx closes every channel.
	cancel()
	for _, ch := range []WatchChan{all, puts, dels, history, single} {
		for range ch {
		}
	}
}

func TestWatchInvalidRequests(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	tests := []struct {
		name string
		key  string
		opts []OpOption
	}{
		{name: "negative revision", key: "a", opts: []OpOption{WithRev(-1)}},
		{name: "get option", key: "a", opts: []OpOption{WithLimit(3)}},
		{name: "prefix and from key", key: "a", opts: []OpOption{WithPrefix(), WithFromKey()}},
		{name: "end before key", key: "b", opts: []OpOption{WithRange("a")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wch := s.Watch(ctx, tc.key, tc.opts...)
			wr, ok := <-wch
			require.True(t, ok)
			require.True(t, wr.Canceled)
			require.ErrorIs(t, wr.Err(), ErrInvalidOption)
			_, ok = <-wch
			require.False(t, ok)
		})
	}
}

func TestWatchCompacted(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	var revs []int64
	for i := range 10 {
		pr, err := s.Put(ctx, "k", strconv.Itoa(i))
		require.NoError(t, err)
		revs = append(revs, pr.Header.Revision)
	}
	synced := s.Watch(ctx, "k")
	_, err := s.Compact(ctx, revs[5], WithCompactPhysical())
	require.NoError(t, err)

	// A watch starting below the compacted revision is canceled with it.
	behind := s.Watch(ctx, "k", WithRev(revs[2]))
	wr := <-behind
	require.True(t, wr.Canceled)
	require.Equal(t, revs[5], wr.CompactRevision)
	require.ErrorIs(t, wr.Err(), ErrCompacted)
	_, ok := <-behind
	require.False(t, ok)

	// Starting at the compacted revision works.
	at := s.Watch(ctx, "k", WithRev(revs[5]))
	require.Len(t, collect(t, at, 5), 5)

	// A synced watcher is not affected by the compaction.
	_, err = s.Put(ctx, "k", "after")
	require.NoError(t, err)
	require.Equal(t, "after", collect(t, synced, 1)[0].Value)

	// Reads below the compacted revision fail; at it they work.
	_, err = s.Get(ctx, "k", WithRev(revs[4]))
	require.ErrorIs(t, err, ErrCompacted)
	gr, err := s.Get(ctx, "k", WithRev(revs[5]))
	require.NoError(t, err)
	require.Equal(t, "5", string(gr.Kvs[0].Value))
	_, err = s.Compact(ctx, revs[3])
	require.ErrorIs(t, err, ErrCompacted)
	_, err = s.Compact(ctx, 1000)
	require.ErrorIs(t, err, ErrFutureRev)
}

func TestCompactionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	s, err := Open(Config{Dir: dir, Logger: testLogger()})
	require.NoError(t, err)
	for i := range 5 {
		_, err := s.Put(ctx, "k", strconv.Itoa(i))
		require.NoError(t, err)
	}
	dr, err := s.Delete(ctx, "k")
	require.NoError(t, err)
	rev := dr.Header.Revision
	// Every key is compacted away; the revision must survive restart.
	_, err = s.Compact(ctx, rev, WithCompactPhysical())
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = Open(Config{Dir: dir, Logger: testLogger()})
	require.NoError(t, err)
	defer s.Close()
	st, err := s.Status(ctx, "")
	require.NoError(t, err)
	require.Equal(t, rev, st.Header.Revision)
	require.Equal(t, rev, st.CompactRevision)
	pr, err := s.Put(ctx, "k", "new")
	require.NoError(t, err)
	require.Equal(t, rev+1, pr.Header.Revision)
}

func TestAutoCompaction(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir(), AutoCompactRevisions: 5, AutoCompactInterval: 50 * time.Millisecond, Logger: testLogger()})
	require.NoError(t, err)
	defer s.Close()
	ctx := testCtx(t)
	var last int64
	for i := range 20 {
		pr, err := s.Put(ctx, "k", strconv.Itoa(i))
		require.NoError(t, err)
		last = pr.Header.Revision
	}
	require.Eventually(t, func() bool {
		st, err := s.Status(ctx, "")
		return err == nil && st.CompactRevision == last-5
	}, 20*time.Second, 20*time.Millisecond)
	_, err = s.Get(ctx, "k", WithRev(last-6))
	require.ErrorIs(t, err, ErrCompacted)
	_, err = s.Get(ctx, "k", WithRev(last-5))
	require.NoError(t, err)
}

func TestWatchProgress(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir(), WatchProgressNotifyInterval: 50 * time.Millisecond, Logger: testLogger()})
	require.NoError(t, err)
	defer s.Close()
	ctx := testCtx(t)
	pr, err := s.Put(ctx, "x", "1")
	require.NoError(t, err)
	periodic := s.Watch(ctx, "k", WithProgressNotify())
	select {
	case wr := <-periodic:
		require.True(t, wr.IsProgressNotify())
		require.Equal(t, pr.Header.Revision, wr.Header.Revision)
	case <-time.After(20 * time.Second):
		t.Fatal("no periodic progress notification")
	}
	onDemand := s.Watch(ctx, "k")
	require.NoError(t, s.RequestProgress(ctx))
	select {
	case wr := <-onDemand:
		require.True(t, wr.IsProgressNotify())
		require.Equal(t, pr.Header.Revision, wr.Header.Revision)
	case <-time.After(20 * time.Second):
		t.Fatal("no progress notification on request")
	}
}

// TestWatchSlowConsumerDoesNotBlock stalls one watcher completely and
// checks that writes and another watcher are unaffected, and that the
// stalled watcher still gets every event, in order, once it reads.
func TestWatchSlowConsumerDoesNotBlock(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir(), WatchBufferSize: 4, Logger: testLogger()})
	require.NoError(t, err)
	defer s.Close()
	ctx := testCtx(t)
	stalled := s.Watch(ctx, "k/", WithPrefix())
	fast := s.Watch(ctx, "k/", WithPrefix())
	const n = 300
	done := make(chan []eventRecord)
	go func() { done <- collect(t, fast, n) }()
	for i := range n {
		_, err := s.Put(ctx, fmt.Sprintf("k/%d", i%7), strconv.Itoa(i))
		require.NoError(t, err)
	}
	fastGot := <-done
	require.Len(t, fastGot, n)
	require.Equal(t, fastGot, collect(t, stalled, n))
}

// TestWatchProperty starts many watchers at random revisions and ranges
// while random writes happen, then checks that each saw exactly the
// history filtered to its range from its start revision. Set KEEL_SEED to
// replay a run.
func TestWatchProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("KEEL_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (KEEL_SEED=%d to replay)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	s, err := Open(Config{Dir: t.TempDir(), WatchBufferSize: 2, Logger: testLogger()})
	require.NoError(t, err)
	defer s.Close()
	ctx := testCtx(t)

	key := func() string { return fmt.Sprintf("k%d", rng.IntN(8)) }
	var history []eventRecord // every event in revision order
	all := s.Watch(ctx, "", WithPrefix(), WithPrevKV())
	type watch struct {
		key, end string
		start    int64
		ch       WatchChan
	}
	var watches []watch
	const writes = 200
	for i := range writes {
		switch rng.IntN(4) {
		case 0, 1:
			_, err = s.Put(ctx, key(), strconv.Itoa(i))
		case 2:
			_, err = s.Delete(ctx, key())
		default:
			_, err = s.Txn(ctx).Then(OpPut("k"+strconv.Itoa(rng.IntN(4)), "t"+strconv.Itoa(i)), OpDelete("k"+strconv.Itoa(4+rng.IntN(4)))).Commit()
		}
		require.NoError(t, err)
		if rng.IntN(10) == 0 {
			lo := rng.IntN(8)
			hi := lo + 1 + rng.IntN(8-lo)
			w := watch{key: fmt.Sprintf("k%d", lo), end: fmt.Sprintf("k%d", hi), start: 1 + rng.Int64N(s.kv.Rev())}
			w.ch = s.Watch(ctx, w.key, WithRange(w.end), WithRev(w.start), WithPrevKV())
			watches = append(watches, w)
		}
	}
	rev := s.kv.Rev()
	// The all-keys watcher defines the history.
	for {
		select {
		case wr := <-all:
			for _, e := range wr.Events {
				history = append(history, recordOf(e))
			}
		case <-time.After(30 * time.Second):
			t.Fatal("all-keys watcher stalled")
		}
		if len(history) > 0 && history[len(history)-1].Mod == rev {
			break
		}
	}
	for _, w := range watches {
		var want []eventRecord
		for _, e := range history {
			if e.Mod >= w.start && e.Key >= w.key && e.Key < w.end {
				want = append(want, e)
			}
		}
		require.Equal(t, want, collect(t, w.ch, len(want)), "watch [%s,%s) from %d", w.key, w.end, w.start)
	}
}
