package keel

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// loadKeys puts key/0000 .. key/<n-1> (values "v<i>"), and "a" and "z"
// around them, in transactions of 100 puts.
func loadKeys(tb testing.TB, s *Store, n int) {
	tb.Helper()
	ctx := tb.Context()
	for i := 0; i < n; i += 100 {
		var ops []Op
		for j := i; j < min(i+100, n); j++ {
			ops = append(ops, OpPut(fmt.Sprintf("key/%04d", j), fmt.Sprintf("v%d", j)))
		}
		_, err := s.Txn(ctx).Then(ops...).Commit()
		require.NoError(tb, err)
	}
	for _, k := range []string{"a", "z"} {
		_, err := s.Put(ctx, k, k)
		require.NoError(tb, err)
	}
}

// readStream reads a stream to its end, checking the chunk rules: Kvs
// disjoint and in key order across chunks, Header, More and Count only on
// the final chunk, a terminal error only as the last value. It returns
// the chunks (the final one last) and the terminal error.
func readStream(tb testing.TB, ch GetStreamChan) (chunks []*GetResponse, err error) {
	tb.Helper()
	var last []byte
	for r := range ch {
		require.NoError(tb, err, "a value followed the terminal response")
		if err = r.Err(); err != nil {
			require.Nil(tb, r.GetResponse, "terminal response with a chunk")
			continue
		}
		require.NotNil(tb, r.GetResponse)
		require.Empty(tb, chunks != nil && chunks[len(chunks)-1].Header != nil, "a chunk followed the final one")
		for _, kv := range r.Kvs {
			require.Positive(tb, bytes.Compare(kv.Key, last), "keys out of order or repeated")
			last = kv.Key
		}
		if r.Header == nil {
			require.False(tb, r.More)
			require.Zero(tb, r.Count)
		}
		chunks = append(chunks, r.GetResponse)
	}
	if err == nil {
		require.NotEmpty(tb, chunks)
		require.NotNil(tb, chunks[len(chunks)-1].Header, "the stream ended without its final chunk")
	}
	return chunks, err
}

// merged is the Get response the chunks make up.
func merged(chunks []*GetResponse) *GetResponse {
	fin := chunks[len(chunks)-1]
	out := &GetResponse{Header: fin.Header, More: fin.More, Count: fin.Count}
	for _, c := range chunks {
		out.Kvs = append(out.Kvs, c.Kvs...)
	}
	return out
}

func TestGetStreamMatchesGet(t *testing.T) {
	s := openSingle(t)
	ctx := t.Context()
	loadKeys(t, s, 250)
	old := s.kv.Rev()
	_, err := s.Put(ctx, "key/0100", "changed")
	require.NoError(t, err)
	_, err = s.Delete(ctx, "key/0101")
	require.NoError(t, err)

	for _, tc := range []struct {
		name      string
		key       string
		opts      []OpOption
		bounds    chunkBounds
		minChunks int
	}{
		{"single key", "key/0007", nil, chunkBounds{}, 1},
		{"missing key", "key/x", nil, chunkBounds{}, 1},
		{"deleted key", "key/0101", nil, chunkBounds{}, 1},
		{"prefix", "key/", []OpOption{WithPrefix()}, chunkBounds{firstKeys: 2, maxKeys: 16}, 10},
		{"every key", "", []OpOption{WithPrefix()}, chunkBounds{firstKeys: 2, maxKeys: 16}, 10},
		{"range", "key/0010", []OpOption{WithRange("key/0100")}, chunkBounds{firstKeys: 1, maxKeys: 8}, 10},
		{"empty range", "key/0100", []OpOption{WithRange("key/0010")}, chunkBounds{}, 1},
		{"from key", "key/0200", []OpOption{WithFromKey()}, chunkBounds{firstKeys: 1, maxKeys: 4}, 10},
		{"limit inside a chunk", "key/", []OpOption{WithPrefix(), WithLimit(5)}, chunkBounds{firstKeys: 16}, 1},
		{"limit across chunks", "key/", []OpOption{WithPrefix(), WithLimit(37)}, chunkBounds{firstKeys: 2, maxKeys: 8}, 5},
		{"limit at a chunk end", "key/", []OpOption{WithPrefix(), WithLimit(16)}, chunkBounds{firstKeys: 8, maxKeys: 8}, 2},
		{"limit equal to the range", "key/00", []OpOption{WithPrefix(), WithLimit(100)}, chunkBounds{firstKeys: 8, maxKeys: 8}, 13},
		{"limit beyond the range", "key/00", []OpOption{WithPrefix(), WithLimit(500)}, chunkBounds{firstKeys: 8, maxKeys: 8}, 13},
		{"negative limit", "key/", []OpOption{WithPrefix(), WithLimit(-1)}, chunkBounds{}, 1},
		{"keys only", "key/", []OpOption{WithPrefix(), WithKeysOnly()}, chunkBounds{firstKeys: 4, maxKeys: 32}, 8},
		{"count only", "key/", []OpOption{WithPrefix(), WithCountOnly()}, chunkBounds{firstKeys: 1, maxKeys: 1}, 1},
		{"count only with limit", "key/", []OpOption{WithPrefix(), WithCountOnly(), WithLimit(3)}, chunkBounds{}, 1},
		{"count only and keys only", "key/", []OpOption{WithPrefix(), WithCountOnly(), WithKeysOnly()}, chunkBounds{}, 1},
		{"older revision", "key/", []OpOption{WithPrefix(), WithRev(old)}, chunkBounds{firstKeys: 2, maxKeys: 16}, 10},
		{"serializable", "key/", []OpOption{WithPrefix(), WithSerializable()}, chunkBounds{firstKeys: 2, maxKeys: 16}, 10},
		{"key order asked for", "key/", []OpOption{WithPrefix(), WithSort(SortByKey, SortAscend)}, chunkBounds{firstKeys: 2, maxKeys: 16}, 10},
		{"first key", "key/", append([]OpOption{WithPrefix()}, WithFirstKey()...), chunkBounds{}, 1},
		{"byte bound", "key/01", []OpOption{WithPrefix()}, chunkBounds{firstKeys: 100, maxKeys: 100, maxBytes: 1}, 99},
		{"default bounds", "", []OpOption{WithPrefix()}, chunkBounds{}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.streamChunks = tc.bounds
			want, err := s.Get(ctx, tc.key, tc.opts...)
			require.NoError(t, err)

			ch, err := s.GetStream(ctx, tc.key, tc.opts...)
			require.NoError(t, err)
			chunks, err := readStream(t, ch)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(chunks), tc.minChunks)
			require.Equal(t, want, merged(chunks))

			ch, err = s.GetStream(ctx, tc.key, tc.opts...)
			require.NoError(t, err)
			got, err := GetStreamToGetResponse(ch)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

func TestGetStreamRefusals(t *testing.T) {
	s := openSingle(t)
	ctx := t.Context()
	loadKeys(t, s, 10)
	_, err := s.Compact(ctx, 3)
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		key  string
		opts []OpOption
		want error
	}{
		{"sort by version", "key/", []OpOption{WithPrefix(), WithSort(SortByVersion, SortNone)}, ErrInvalidOption},
		{"sort by value", "key/", []OpOption{WithPrefix(), WithSort(SortByValue, SortAscend)}, ErrInvalidOption},
		{"key descending", "key/", []OpOption{WithPrefix(), WithSort(SortByKey, SortDescend)}, ErrInvalidOption},
		{"last key", "key/", append([]OpOption{WithPrefix()}, WithLastKey()...), ErrInvalidOption},
		{"first create", "key/", append([]OpOption{WithPrefix()}, WithFirstCreate()...), ErrInvalidOption},
		{"min mod revision", "key/", []OpOption{WithPrefix(), WithMinModRev(2)}, ErrInvalidOption},
		{"max mod revision", "key/", []OpOption{WithPrefix(), WithMaxModRev(2)}, ErrInvalidOption},
		{"min create revision", "key/", []OpOption{WithPrefix(), WithMinCreateRev(2)}, ErrInvalidOption},
		{"max create revision", "key/", []OpOption{WithPrefix(), WithMaxCreateRev(2)}, ErrInvalidOption},
		{"unknown sort order", "key/", []OpOption{WithPrefix(), WithSort(SortByKey, 7)}, ErrInvalidSortOption},
		{"option of a put", "key/", []OpOption{WithPrevKV()}, ErrInvalidOption},
		{"empty key", "", nil, ErrEmptyKey},
		{"compacted revision", "key/", []OpOption{WithPrefix(), WithRev(2)}, ErrCompacted},
		{"future revision", "key/", []OpOption{WithPrefix(), WithRev(1000)}, ErrFutureRev},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := s.GetStream(ctx, tc.key, tc.opts...)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, ch)
		})
	}
	// A revision filter of zero is no filter, as in etcd.
	ch, err := s.GetStream(ctx, "key/", WithPrefix(), WithMinModRev(0))
	require.NoError(t, err)
	_, err = GetStreamToGetResponse(ch)
	require.NoError(t, err)
}

// TestGetStreamPinnedRevision reads a range in many chunks while the
// consumer rewrites, adds and deletes keys in it after every chunk (the
// stream reads its next chunk meanwhile): every chunk is read at the
// revision of the first.
func TestGetStreamPinnedRevision(t *testing.T) {
	s := openSingle(t)
	ctx := t.Context()
	loadKeys(t, s, 300)
	s.streamChunks = chunkBounds{firstKeys: 1, maxKeys: 4}

	ch, err := s.GetStream(ctx, "key/", WithPrefix())
	require.NoError(t, err)
	var chunks []*GetResponse
	for r := range ch {
		require.NoError(t, r.Err())
		chunks = append(chunks, r.GetResponse)
		i := len(chunks)
		k := fmt.Sprintf("key/%04d", (i*37)%400) // behind, ahead, or new
		if i%5 == 0 {
			_, err = s.Delete(ctx, k)
		} else {
			_, err = s.Put(ctx, k, "new")
		}
		require.NoError(t, err)
	}
	require.Greater(t, len(chunks), 50)

	got := merged(chunks)
	require.Len(t, got.Kvs, 300)
	require.Less(t, got.Header.Revision, s.kv.Rev())
	want, err := s.Get(ctx, "key/", WithPrefix(), WithRev(got.Header.Revision))
	require.NoError(t, err)
	want.Header.Revision = got.Header.Revision // Get's header has the current revision
	require.Equal(t, want, got)
	for _, kv := range got.Kvs {
		require.NotEqual(t, "new", string(kv.Value))
	}
}

// TestGetStreamEnds checks how a stream ends early: a compaction past its
// revision, ctx canceled while it is read or while nobody reads it, and
// the Store closing. Each ends with a terminal error and leaves no
// goroutine behind.
func TestGetStreamEnds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		readOne  bool // receive the first chunk before the event
		event    func(t *testing.T, s *Store, cancel context.CancelFunc)
		want     []error
		notAfter error // ...and not this
	}{
		{"compaction", true, func(t *testing.T, s *Store, _ context.CancelFunc) {
			r, err := s.Put(t.Context(), "z", "again")
			require.NoError(t, err)
			_, err = s.Compact(t.Context(), r.Header.Revision)
			require.NoError(t, err)
		}, []error{ErrCompacted}, nil},
		{"ctx canceled while read", true, func(_ *testing.T, _ *Store, cancel context.CancelFunc) { cancel() },
			[]error{ErrTimeout, context.Canceled}, nil},
		{"ctx canceled while nobody reads", false, func(t *testing.T, _ *Store, cancel context.CancelFunc) {
			waitStreamBlocked(t)
			cancel()
			waitNoStreams(t)
		}, []error{ErrTimeout, context.Canceled}, nil},
		{"store closed", true, func(t *testing.T, s *Store, _ context.CancelFunc) {
			require.NoError(t, s.Close())
		}, []error{ErrStopped}, ErrRemoved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openSingle(t)
			loadKeys(t, s, 200)
			s.streamChunks = chunkBounds{firstKeys: 1, maxKeys: 1}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ch, err := s.GetStream(ctx, "key/", WithPrefix())
			require.NoError(t, err)
			if tc.readOne {
				r := <-ch
				require.NoError(t, r.Err())
				require.Len(t, r.Kvs, 1)
			}
			tc.event(t, s, cancel)
			chunks, err := readStream(t, ch)
			for _, want := range tc.want {
				require.ErrorIs(t, err, want)
			}
			if tc.notAfter != nil {
				require.NotErrorIs(t, err, tc.notAfter)
			}
			require.Less(t, len(chunks), 199, "the stream was not cut short")
			waitNoStreams(t)
		})
	}
}

// streamGoroutines counts the goroutines running rangeStream.run, and
// those of them blocked sending on their channel.
func streamGoroutines() (running, blocked int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "keel.(*rangeStream).run") {
			running++
			if strings.Contains(g, "[select]") {
				blocked++
			}
		}
	}
	return running, blocked
}

func waitNoStreams(tb testing.TB) {
	tb.Helper()
	require.Eventually(tb, func() bool { n, _ := streamGoroutines(); return n == 0 },
		10*time.Second, 5*time.Millisecond, "a stream goroutine is left")
}

func waitStreamBlocked(tb testing.TB) {
	tb.Helper()
	require.Eventually(tb, func() bool { _, n := streamGoroutines(); return n == 1 },
		10*time.Second, 5*time.Millisecond, "the stream did not fill its channel")
}
