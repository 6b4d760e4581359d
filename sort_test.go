package keel

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// putSortData writes five keys whose values, versions, create and mod
// revisions each order them differently from key order and from each
// other, and returns the revision before the first write:
//
//	key  value  version  create  mod
//	a    4      3        base+3  base+8
//	b    2      1        base+5  base+5
//	c    5      1        base+2  base+2
//	d    1      2        base+4  base+7
//	e    3      2        base+1  base+9
func putSortData(tb testing.TB, s *Store) int64 {
	tb.Helper()
	ctx := testCtx(tb)
	var base int64
	for i, kv := range [][2]string{{"e", "3"}, {"c", "5"}, {"a", "4"}, {"d", "1"}, {"b", "2"}, {"a", "4"}, {"d", "1"}, {"a", "4"}, {"e", "3"}} {
		r, err := s.Put(ctx, "s/"+kv[0], kv[1])
		require.NoError(tb, err)
		if i == 0 {
			base = r.Header.Revision - 1
		}
	}
	return base
}

// TestGetSortRule checks every sort target with SortNone, SortAscend and
// SortDescend, with and without a limit, against orders worked out by
// hand from putSortData's table. Equal fields (versions) keep key order.
// The SortNone cases with a limit show etcd's rule: a target other than
// the key sorts only the first limit+1 keys in key order (a, b, c), so
// they differ from the SortAscend cases.
func TestGetSortRule(t *testing.T) {
	s := openSingle(t)
	base := putSortData(t, s)
	ctx := testCtx(t)
	tests := []struct {
		name   string
		target SortTarget
		order  SortOrder
		limit  int64
		opts   []OpOption
		want   string
		// matching is how many keys the options leave before the limit
		// (5 if unset).
		matching int64
	}{
		{name: "key none", target: SortByKey, order: SortNone, want: "abcde"},
		{name: "key ascend", target: SortByKey, order: SortAscend, want: "abcde"},
		{name: "key descend", target: SortByKey, order: SortDescend, want: "edcba"},
		{name: "version none", target: SortByVersion, order: SortNone, want: "bcdea"},
		{name: "version ascend", target: SortByVersion, order: SortAscend, want: "bcdea"},
		{name: "version descend", target: SortByVersion, order: SortDescend, want: "adebc"},
		{name: "create none", target: SortByCreateRevision, order: SortNone, want: "ecadb"},
		{name: "create ascend", target: SortByCreateRevision, order: SortAscend, want: "ecadb"},
		{name: "create descend", target: SortByCreateRevision, order: SortDescend, want: "bdace"},
		{name: "mod none", target: SortByModRevision, order: SortNone, want: "cbdae"},
		{name: "mod ascend", target: SortByModRevision, order: SortAscend, want: "cbdae"},
		{name: "mod descend", target: SortByModRevision, order: SortDescend, want: "eadbc"},
		{name: "value none", target: SortByValue, order: SortNone, want: "dbeac"},
		{name: "value ascend", target: SortByValue, order: SortAscend, want: "dbeac"},
		{name: "value descend", target: SortByValue, order: SortDescend, want: "caebd"},

		{name: "key none limit", target: SortByKey, order: SortNone, limit: 2, want: "ab"},
		{name: "key ascend limit", target: SortByKey, order: SortAscend, limit: 2, want: "ab"},
		{name: "key descend limit", target: SortByKey, order: SortDescend, limit: 2, want: "ed"},
		{name: "version none limit", target: SortByVersion, order: SortNone, limit: 2, want: "bc"},
		{name: "version ascend limit", target: SortByVersion, order: SortAscend, limit: 2, want: "bc"},
		{name: "version descend limit", target: SortByVersion, order: SortDescend, limit: 2, want: "ad"},
		{name: "create none limit", target: SortByCreateRevision, order: SortNone, limit: 2, want: "ca"},
		{name: "create ascend limit", target: SortByCreateRevision, order: SortAscend, limit: 2, want: "ec"},
		{name: "create descend limit", target: SortByCreateRevision, order: SortDescend, limit: 2, want: "bd"},
		{name: "mod none limit", target: SortByModRevision, order: SortNone, limit: 2, want: "cb"},
		{name: "mod ascend limit", target: SortByModRevision, order: SortAscend, limit: 2, want: "cb"},
		{name: "mod descend limit", target: SortByModRevision, order: SortDescend, limit: 2, want: "ea"},
		{name: "value none limit", target: SortByValue, order: SortNone, limit: 2, want: "ba"},
		{name: "value ascend limit", target: SortByValue, order: SortAscend, limit: 2, want: "db"},
		{name: "value descend limit", target: SortByValue, order: SortDescend, limit: 2, want: "ca"},

		// The limit rule's edges: a limit of count-1 still leaves a key
		// out of the sort's input... (a, b, c, d, e are all read: limit+1)
		{name: "value none limit 4", target: SortByValue, order: SortNone, limit: 4, want: "dbea"},
		// ...a limit at or above the count sorts everything.
		{name: "value none limit 5", target: SortByValue, order: SortNone, limit: 5, want: "dbeac"},
		{name: "create none limit 1", target: SortByCreateRevision, order: SortNone, limit: 1, want: "a"},
		// A min/max revision filter turns the rule off: the filtered range
		// (b, c, d: mod <= base+7) is sorted whole, then limited.
		{name: "value none limit filtered", target: SortByValue, order: SortNone, limit: 2, opts: []OpOption{WithMaxModRev(base + 7)}, want: "db", matching: 3},
		// Sorting by value still works when the values are not returned.
		{name: "value none limit keys only", target: SortByValue, order: SortNone, limit: 2, opts: []OpOption{WithKeysOnly()}, want: "ba"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]OpOption{WithPrefix(), WithSort(tc.target, tc.order), WithLimit(tc.limit)}, tc.opts...)
			check := func(t *testing.T, r *GetResponse) {
				t.Helper()
				var got []byte
				for _, kv := range r.Kvs {
					got = append(got, bytes.TrimPrefix(kv.Key, []byte("s/"))...)
				}
				require.Equal(t, tc.want, string(got))
				require.Equal(t, int64(5), r.Count)
				matching := cmp.Or(tc.matching, 5)
				require.Equal(t, tc.limit > 0 && tc.limit < matching, r.More)
			}
			r, err := s.Get(ctx, "s/", opts...)
			require.NoError(t, err)
			check(t, r)
			// The same read inside a transaction follows the same rule.
			tr, err := s.Txn(ctx).Then(OpGet("s/", opts...)).Commit()
			require.NoError(t, err)
			check(t, tr.Responses[0].GetResponseRange())
		})
	}
}

// TestGetSortInvalid checks that a sort target or order that does not
// exist fails with ErrInvalidSortOption, alone and in a transaction.
func TestGetSortInvalid(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	tests := []struct {
		name   string
		target SortTarget
		order  SortOrder
	}{
		{name: "target too large", target: SortByValue + 1, order: SortAscend},
		{name: "negative target", target: -1, order: SortNone},
		{name: "order too large", target: SortByKey, order: SortDescend + 1},
		{name: "negative order", target: SortByVersion, order: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := OpGet("k", WithSort(tc.target, tc.order))
			require.False(t, op.IsSortOptionValid())
			_, err := s.Get(ctx, "k", WithSort(tc.target, tc.order))
			require.ErrorIs(t, err, ErrInvalidSortOption)
			_, err = s.Do(ctx, op)
			require.ErrorIs(t, err, ErrInvalidSortOption)
			_, err = s.Txn(ctx).Then(OpPut("x", "y"), op).Commit()
			require.ErrorIs(t, err, ErrInvalidSortOption)
		})
	}
	r, err := s.Get(ctx, "x")
	require.NoError(t, err)
	require.Empty(t, r.Kvs, "a txn with an invalid sort applied nothing")
}

// etcdRange is an independent model of etcd's range rules
// (server/etcdserver/txn/range.go) over kvs, the whole range in key
// order: which keys are read, which are sorted, and where the limit cuts.
func etcdRange(kvs []*KeyValue, target SortTarget, order SortOrder, limit, maxMod int64) ([]*KeyValue, bool) {
	defaultOrdering := order == SortNone || target == SortByKey && order == SortAscend
	read := slices.Clone(kvs)
	if defaultOrdering && maxMod == 0 && limit > 0 && int64(len(read)) > limit+1 {
		read = read[:limit+1]
	}
	if maxMod != 0 {
		read = slices.DeleteFunc(read, func(kv *KeyValue) bool { return kv.ModRevision > maxMod })
	}
	if target != SortByKey && order == SortNone {
		order = SortAscend
	}
	field := func(kv *KeyValue) string {
		switch target {
		case SortByVersion:
			return fmt.Sprintf("%020d", kv.Version)
		case SortByCreateRevision:
			return fmt.Sprintf("%020d", kv.CreateRevision)
		case SortByModRevision:
			return fmt.Sprintf("%020d", kv.ModRevision)
		case SortByValue:
			return string(kv.Value)
		}
		return string(kv.Key)
	}
	if order != SortNone {
		slices.SortStableFunc(read, func(a, b *KeyValue) int {
			if order == SortDescend {
				return cmp.Compare(field(b), field(a))
			}
			return cmp.Compare(field(a), field(b))
		})
	}
	more := false
	if limit > 0 && int64(len(read)) > limit {
		read, more = read[:limit], true
	}
	return read, more
}

// TestGetSortModel compares random sorted, limited and filtered Gets over
// random data with etcdRange. Set KEEL_SORT_SEED to replay a run.
func TestGetSortModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("KEEL_SORT_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "KEEL_SORT_SEED")
	}
	t.Logf("seed %d (KEEL_SORT_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	s := openSingle(t)
	ctx := testCtx(t)
	for range 60 {
		k := fmt.Sprintf("m/%02d", rng.IntN(20))
		_, err := s.Put(ctx, k, fmt.Sprintf("%03d", rng.IntN(8)))
		require.NoError(t, err)
	}
	all, err := s.Get(ctx, "m/", WithPrefix())
	require.NoError(t, err)
	head := all.Header.Revision
	for i := range 300 {
		target := SortTarget(rng.IntN(5))
		order := SortOrder(rng.IntN(3))
		limit := int64(rng.IntN(int(all.Count) + 3))
		var maxMod int64
		if rng.IntN(4) == 0 {
			maxMod = head - int64(rng.IntN(30))
		}
		opts := []OpOption{WithPrefix(), WithSort(target, order), WithLimit(limit)}
		if maxMod != 0 {
			opts = append(opts, WithMaxModRev(maxMod))
		}
		r, err := s.Get(ctx, "m/", opts...)
		require.NoError(t, err)
		want, more := etcdRange(all.Kvs, target, order, limit, maxMod)
		desc := fmt.Sprintf("case %d: target %d order %d limit %d maxMod %d", i, target, order, limit, maxMod)
		require.Equal(t, keysOf(want), keysOf(r.Kvs), desc)
		require.Equal(t, more, r.More, desc)
		require.Equal(t, all.Count, r.Count, desc)
	}
}

func keysOf(kvs []*KeyValue) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = string(kv.Key)
	}
	return out
}
