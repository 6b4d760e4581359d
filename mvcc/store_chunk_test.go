package mvcc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// readChunks reads key..end in chunks as a streaming reader does, and
// returns every KV and the number of chunks.
func readChunks(tb testing.TB, s *Store, key, end string, co ChunkOptions) ([]*KeyValue, int) {
	tb.Helper()
	var all []*KeyValue
	k := []byte(key)
	for n := 1; ; n++ {
		res, err := s.RangeChunk(k, bytesOrNil(end), co)
		require.NoError(tb, err)
		require.LessOrEqual(tb, len(res.KVs), max(co.MaxKeys, 1))
		if co.MaxBytes > 0 && len(res.KVs) > 1 {
			last := res.KVs[len(res.KVs)-1]
			require.Less(tb, res.Bytes-len(last.Key)-len(last.Value)-kvOverhead, co.MaxBytes, "chunk went on past MaxBytes")
		}
		co.Rev = res.ReadRev
		all = append(all, res.KVs...)
		if !res.More {
			return all, n
		}
		last := res.KVs[len(res.KVs)-1].Key
		k = append(append([]byte(nil), last...), 0)
	}
}

func TestRangeChunk(t *testing.T) {
	for _, committed := range []bool{false, true} {
		s := rangeFixture(t) // live at 5: a ab abc c \xff; at 3 also b
		if committed {
			require.NoError(t, s.ForceCommit())
		}
		for _, tc := range []struct {
			name       string
			key, end   string
			co         ChunkOptions
			wantChunks int
		}{
			{"single key", "ab", "", ChunkOptions{MaxKeys: 5}, 1},
			{"single missing key", "zz", "", ChunkOptions{MaxKeys: 5}, 1},
			{"all keys one per chunk", "\x00", "\x00", ChunkOptions{}, 5},
			{"all keys two per chunk", "\x00", "\x00", ChunkOptions{MaxKeys: 2}, 3},
			{"all keys in one chunk", "\x00", "\x00", ChunkOptions{MaxKeys: 5}, 1},
			{"range", "ab", "c", ChunkOptions{MaxKeys: 1}, 2},
			{"from key", "ab", "\x00", ChunkOptions{MaxKeys: 3}, 2},
			{"older revision", "\x00", "\x00", ChunkOptions{Rev: 3, MaxKeys: 2}, 3},
			{"byte bound", "\x00", "\x00", ChunkOptions{MaxKeys: 5, MaxBytes: 2*kvOverhead + 1}, 3},
			{"byte bound below one KV", "\x00", "\x00", ChunkOptions{MaxKeys: 5, MaxBytes: 1}, 5},
			{"keys only", "\x00", "\x00", ChunkOptions{MaxKeys: 2, KeysOnly: true}, 3},
			{"empty range", "c", "a", ChunkOptions{MaxKeys: 2}, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := rangeOK(t, s, tc.key, tc.end, RangeOptions{Rev: tc.co.Rev, KeysOnly: tc.co.KeysOnly})
				got, chunks := readChunks(t, s, tc.key, tc.end, tc.co)
				require.Equal(t, tc.wantChunks, chunks)
				if len(want.KVs) == 0 {
					require.Empty(t, got)
					return
				}
				require.Equal(t, want.KVs, got)
			})
		}
	}
}

func TestRangeChunkRevisions(t *testing.T) {
	s := rangeFixture(t)
	res, err := s.RangeChunk([]byte("a"), nil, ChunkOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(5), res.ReadRev)
	require.Equal(t, int64(5), res.Rev)

	res, err = s.RangeChunk([]byte("a"), nil, ChunkOptions{Rev: 2})
	require.NoError(t, err)
	require.Equal(t, int64(2), res.ReadRev)
	require.Equal(t, int64(5), res.Rev)
	require.Equal(t, "1", string(res.KVs[0].Value))

	_, err = s.RangeChunk([]byte("a"), nil, ChunkOptions{Rev: 6})
	require.ErrorIs(t, err, ErrFutureRev)

	// A compaction past the revision a chunked read is pinned at fails
	// its next chunk.
	compact(t, s, 5, 4)
	_, err = s.RangeChunk([]byte("a"), []byte("\x00"), ChunkOptions{Rev: 3})
	require.ErrorIs(t, err, ErrCompacted)
	_, err = s.RangeChunk([]byte("a"), []byte("\x00"), ChunkOptions{Rev: 4})
	require.NoError(t, err)

	require.NoError(t, s.Close())
	_, err = s.RangeChunk([]byte("a"), nil, ChunkOptions{})
	require.ErrorIs(t, err, ErrClosed)
}

// TestRangeCountOnly checks the count-only path, which counts without
// collecting the keys.
func TestRangeCountOnly(t *testing.T) {
	s := rangeFixture(t)
	for _, tc := range []struct {
		name     string
		key, end string
		rev      int64
		want     int64
	}{
		{"single key", "ab", "", 0, 1},
		{"single deleted key", "b", "", 0, 0},
		{"single deleted key at older rev", "b", "", 3, 1},
		{"empty key", "", "", 0, 0},
		{"range", "ab", "c", 0, 2},
		{"all keys", "\x00", "\x00", 0, 5},
		{"all keys at rev 3", "\x00", "\x00", 3, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rangeOK(t, s, tc.key, tc.end, RangeOptions{Rev: tc.rev, CountOnly: true, Limit: 1})
			require.Equal(t, tc.want, res.Count)
			require.Nil(t, res.KVs)
			require.False(t, res.More)
			require.EqualValues(t, 5, res.Rev)
		})
	}
}
