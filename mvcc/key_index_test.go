package mvcc

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKeyIndexWorkedExample checks the example in keyIndex's doc comment.
func TestKeyIndexWorkedExample(t *testing.T) {
	ki := newKeyIndex([]byte("k"))
	require.NoError(t, ki.put(revision{2, 0}))
	require.NoError(t, ki.put(revision{3, 0}))
	require.NoError(t, ki.tombstone(revision{4, 0}))
	require.NoError(t, ki.put(revision{5, 0}))
	require.NoError(t, ki.put(revision{5, 1}))
	require.NoError(t, ki.tombstone(revision{6, 0}))

	require.Equal(t, []generation{
		{ver: 3, created: revision{2, 0}, revs: []revision{{2, 0}, {3, 0}, {4, 0}}},
		{ver: 3, created: revision{5, 0}, revs: []revision{{5, 0}, {5, 1}, {6, 0}}},
		{},
	}, ki.generations)
	require.False(t, ki.isLive())

	for _, tc := range []struct {
		name        string
		at          int64
		ok          bool
		mod, create revision
		ver         int64
	}{
		{"before creation", 1, false, revision{}, revision{}, 0},
		{"first put", 2, true, revision{2, 0}, revision{2, 0}, 1},
		{"second put", 3, true, revision{3, 0}, revision{2, 0}, 2},
		{"deleted", 4, false, revision{}, revision{}, 0},
		{"two puts in one txn", 5, true, revision{5, 1}, revision{5, 0}, 2},
		{"deleted again", 6, false, revision{}, revision{}, 0},
		{"far future", 100, false, revision{}, revision{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod, create, ver, ok := ki.get(tc.at)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.mod, mod)
			require.Equal(t, tc.create, create)
			require.Equal(t, tc.ver, ver)
		})
	}
}

func TestKeyIndexRejectsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(ki *keyIndex) error
	}{
		{"tombstone of a missing key", func(ki *keyIndex) error { return ki.tombstone(revision{2, 0}) }},
		{"tombstone of a deleted key", func(ki *keyIndex) error {
			_ = ki.put(revision{2, 0})
			_ = ki.tombstone(revision{3, 0})
			return ki.tombstone(revision{4, 0})
		}},
		{"revision going back", func(ki *keyIndex) error {
			_ = ki.put(revision{3, 0})
			return ki.put(revision{2, 5})
		}},
		{"revision repeated", func(ki *keyIndex) error {
			_ = ki.put(revision{3, 1})
			return ki.put(revision{3, 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.run(newKeyIndex([]byte("k"))), ErrCorruptRecord)
		})
	}
}

// TestReopenManyRevisionsPerKey reopens a store whose records are mostly
// older revisions of a few keys; the rebuilt index must hold each key once
// and find it, with its history.
func TestReopenManyRevisionsPerKey(t *testing.T) {
	s, path := openStore(t, Config{noSync: true})
	const keys, revs = 3, 50
	for r := range revs {
		tx := s.Write(uint64(r + 1))
		for k := range keys {
			tx.Put([]byte{'k', byte('a' + k)}, []byte{byte(r)}, 0)
		}
		tx.End()
	}
	require.NoError(t, s.Close())
	s = reopen(t, path, Config{noSync: true})
	require.Equal(t, keys, s.index.tree.Len())
	for k := range keys {
		key := []byte{'k', byte('a' + k)}
		rr, err := s.Range(key, nil, RangeOptions{})
		require.NoError(t, err)
		require.Len(t, rr.KVs, 1)
		require.Equal(t, []byte{revs - 1}, rr.KVs[0].Value)
		require.Equal(t, int64(revs), rr.KVs[0].Version)
		old, err := s.Range(key, nil, RangeOptions{Rev: 2})
		require.NoError(t, err)
		require.Equal(t, []byte{0}, old.KVs[0].Value)
	}
}

// TestNewKeyIndexKeyCopy checks that the index owns its copy of the key,
// short (kept inline) or long, that the copy's capacity ends with the key,
// and that a short key costs no allocation of its own.
func TestNewKeyIndexKeyCopy(t *testing.T) {
	tests := []struct {
		name   string
		key    []byte
		allocs float64
	}{
		{name: "empty", key: []byte{}, allocs: 1},
		{name: "short", key: []byte("w4/0000000001"), allocs: 1},
		{name: "inline limit", key: bytes.Repeat([]byte("k"), inlineKeyBytes), allocs: 1},
		{name: "long", key: bytes.Repeat([]byte("k"), inlineKeyBytes+1), allocs: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := bytes.Clone(tt.key)
			ki := newKeyIndex(key)
			require.NotNil(t, ki.key())
			require.Equal(t, tt.key, ki.key())
			require.Equal(t, len(ki.key()), cap(ki.key()), "room after the key")
			if len(key) > 0 {
				key[0] = 'X' // the caller's buffer is not the index's
				require.Equal(t, tt.key, ki.key())
			}
			var sink atomic.Pointer[keyIndex] // makes the keyIndex escape, as in the tree
			require.Equal(t, tt.allocs, testing.AllocsPerRun(100, func() { sink.Store(newKeyIndex(tt.key)) }))
		})
	}
}

// TestKeyIndexSingleForm checks that a key with one put, kept in the single
// form, answers every read as the same key in the general form does, and
// that a second revision of any kind expands it without losing the first.
func TestKeyIndexSingleForm(t *testing.T) {
	rev := revision{main: 5, sub: 2}
	single := newKeyIndex([]byte("k"))
	require.NoError(t, single.put(rev))
	require.True(t, single.single())
	require.Nil(t, single.generations)
	general := newKeyIndex([]byte("k"))
	require.NoError(t, general.put(rev))
	general.expand()
	require.False(t, general.single())

	require.Equal(t, general.isLive(), single.isLive())
	for at := int64(0); at <= 7; at++ {
		m1, c1, v1, ok1 := single.get(at)
		m2, c2, v2, ok2 := general.get(at)
		require.Equal(t, []any{m2, c2, v2, ok2}, []any{m1, c1, v1, ok1}, "get(%d)", at)
		require.Equal(t, general.compact(at), single.compact(at), "compact(%d)", at)
	}
	for _, r := range []revision{rev, {main: 5}, {main: 5, sub: 3}, {main: 4, sub: 2}} {
		require.Equal(t, general.has(r), single.has(r), "has(%v)", r)
	}

	for _, tc := range []struct {
		name string
		next func(ki *keyIndex) error
		want []generation
	}{
		{name: "put", next: func(ki *keyIndex) error { return ki.put(revision{main: 6}) },
			want: []generation{{ver: 2, created: rev, revs: []revision{rev, {main: 6}}}}},
		{name: "tombstone", next: func(ki *keyIndex) error { return ki.tombstone(revision{main: 6}) },
			want: []generation{{ver: 2, created: rev, revs: []revision{rev, {main: 6}}}, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ki := newKeyIndex([]byte("k"))
			require.NoError(t, ki.put(rev))
			require.NoError(t, tc.next(ki))
			require.False(t, ki.single())
			require.Equal(t, tc.want, ki.generations)
			require.Equal(t, revision{main: 6}, ki.modified)
		})
	}
	t.Run("restoreGen of a live single key", func(t *testing.T) {
		require.ErrorIs(t, single.restoreGen(revision{main: 9}, 9, 1), ErrCorruptRecord)
		require.True(t, single.single(), "a failed restore leaves the key as it was")
	})
	t.Run("revision not above", func(t *testing.T) {
		require.ErrorIs(t, single.put(rev), ErrCorruptRecord)
		require.True(t, single.single())
	})
}
