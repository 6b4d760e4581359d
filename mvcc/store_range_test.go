package mvcc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// rangeFixture: rev 2 puts a, ab, abc, b; rev 3 puts c, "\xff"; rev 4
// deletes b; rev 5 updates a.
func rangeFixture(tb testing.TB) *Store {
	tb.Helper()
	s, _ := openStore(tb, Config{})
	putKVs(tb, s, 1, "a", "1", "ab", "2", "abc", "3", "b", "4")
	putKVs(tb, s, 2, "c", "5", "\xff", "6")
	deleteRange(tb, s, 3, "b", "")
	putKVs(tb, s, 4, "a", "7")
	return s
}

func TestRangeEnds(t *testing.T) {
	s := rangeFixture(t)
	for _, tc := range []struct {
		name     string
		key, end string
		rev      int64
		want     []string
	}{
		{"single key", "ab", "", 0, []string{"ab"}},
		{"single missing key", "zz", "", 0, []string{}},
		{"single deleted key", "b", "", 0, []string{}},
		{"single deleted key at older rev", "b", "", 3, []string{"b"}},
		{"empty key and no end", "", "", 0, []string{}},
		{"range", "ab", "c", 0, []string{"ab", "abc"}},
		{"prefix-style end", "a", "b", 0, []string{"a", "ab", "abc"}},
		{"prefix past 0xff", "\xff", "\xff\x00", 0, []string{"\xff"}},
		{"from key", "ab", "\x00", 0, []string{"ab", "abc", "c", "\xff"}},
		{"all keys", "\x00", "\x00", 0, []string{"a", "ab", "abc", "c", "\xff"}},
		{"all keys at rev 3", "\x00", "\x00", 3, []string{"a", "ab", "abc", "b", "c", "\xff"}},
		{"end equal to key", "b", "b", 0, []string{}},
		{"end before key", "c", "a", 0, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Range([]byte(tc.key), bytesOrNil(tc.end), RangeOptions{Rev: tc.rev})
			require.NoError(t, err)
			require.Equal(t, tc.want, keysOf(res.KVs))
			require.EqualValues(t, len(tc.want), res.Count)
			require.EqualValues(t, 5, res.Rev)
		})
	}
}

func TestRangeCountLimitSortFilter(t *testing.T) {
	s, _ := openStore(t, Config{})
	// rev 2: d, c; rev 3: b, a, c (c v2); rev 4: e; rev 5: a (v2)
	putKVs(t, s, 1, "d", "z", "c", "y")
	putKVs(t, s, 2, "b", "x", "a", "x", "c", "w")
	putKVs(t, s, 3, "e", "v")
	putKVs(t, s, 4, "a", "u")
	// Now: a{u c3 m5 v2} b{x c3 m3 v1} c{w c2 m3 v2} d{z c2 m2 v1} e{v c4 m4 v1}

	for _, tc := range []struct {
		name     string
		ro       RangeOptions
		want     []string
		wantMore bool
	}{
		{"no options", RangeOptions{}, []string{"a", "b", "c", "d", "e"}, false},
		{"limit cuts and sets more", RangeOptions{Limit: 2}, []string{"a", "b"}, true},
		{"limit equal to count", RangeOptions{Limit: 5}, []string{"a", "b", "c", "d", "e"}, false},
		{"limit above count", RangeOptions{Limit: 9}, []string{"a", "b", "c", "d", "e"}, false},
		{"key ascend", RangeOptions{SortTarget: SortByKey, SortOrder: SortAscend}, []string{"a", "b", "c", "d", "e"}, false},
		{"key descend", RangeOptions{SortTarget: SortByKey, SortOrder: SortDescend}, []string{"e", "d", "c", "b", "a"}, false},
		{"key descend with limit", RangeOptions{SortOrder: SortDescend, Limit: 2}, []string{"e", "d"}, true},
		{"version none means ascend, ties in key order", RangeOptions{SortTarget: SortByVersion}, []string{"b", "d", "e", "a", "c"}, false},
		{"version descend", RangeOptions{SortTarget: SortByVersion, SortOrder: SortDescend}, []string{"a", "c", "b", "d", "e"}, false},
		{"create ascend", RangeOptions{SortTarget: SortByCreateRevision, SortOrder: SortAscend}, []string{"c", "d", "a", "b", "e"}, false},
		{"create descend limit 1 (last create)", RangeOptions{SortTarget: SortByCreateRevision, SortOrder: SortDescend, Limit: 1}, []string{"e"}, true},
		{"mod ascend", RangeOptions{SortTarget: SortByModRevision, SortOrder: SortAscend}, []string{"d", "b", "c", "e", "a"}, false},
		{"mod descend", RangeOptions{SortTarget: SortByModRevision, SortOrder: SortDescend}, []string{"a", "e", "b", "c", "d"}, false},
		{"value ascend", RangeOptions{SortTarget: SortByValue, SortOrder: SortAscend}, []string{"a", "e", "c", "b", "d"}, false},
		{"value descend", RangeOptions{SortTarget: SortByValue, SortOrder: SortDescend}, []string{"d", "b", "c", "e", "a"}, false},
		{"min mod rev", RangeOptions{MinModRev: 4}, []string{"a", "e"}, false},
		{"max mod rev", RangeOptions{MaxModRev: 3}, []string{"b", "c", "d"}, false},
		{"min create rev", RangeOptions{MinCreateRev: 3}, []string{"a", "b", "e"}, false},
		{"max create rev", RangeOptions{MaxCreateRev: 2}, []string{"c", "d"}, false},
		{"max create rev with limit: more counts filtered keys", RangeOptions{MaxCreateRev: 3, Limit: 3}, []string{"a", "b", "c"}, true},
		{"filter then limit exactly", RangeOptions{MaxCreateRev: 2, Limit: 2}, []string{"c", "d"}, false},
		{"filter, sort and limit", RangeOptions{MinModRev: 3, SortTarget: SortByModRevision, SortOrder: SortDescend, Limit: 2}, []string{"a", "e"}, true},
		{"keys only", RangeOptions{KeysOnly: true, Limit: 1}, []string{"a"}, true},
		{"historical with sort", RangeOptions{Rev: 3, SortTarget: SortByValue}, []string{"c", "a", "b", "d"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rangeOK(t, s, "a", "z", tc.ro)
			require.Equal(t, tc.want, keysOf(res.KVs))
			require.Equal(t, tc.wantMore, res.More)
			wantCount := int64(5)
			if tc.ro.Rev == 3 {
				wantCount = 4
			}
			require.Equal(t, wantCount, res.Count, "count ignores limit and filters")
			require.EqualValues(t, 5, res.Rev)
			for _, kv := range res.KVs {
				if tc.ro.KeysOnly {
					require.Nil(t, kv.Value)
				} else {
					require.NotEmpty(t, kv.Value)
				}
			}
		})
	}
}

func TestRangeCountOnlyAndKeysOnly(t *testing.T) {
	s := rangeFixture(t)
	for _, tc := range []struct {
		name      string
		ro        RangeOptions
		wantCount int64
		wantKVs   []*KeyValue
	}{
		{"count only", RangeOptions{CountOnly: true}, 3, nil},
		{"count only ignores limit", RangeOptions{CountOnly: true, Limit: 1}, 3, nil},
		{"count only at rev 2", RangeOptions{CountOnly: true, Rev: 2}, 4, nil},
		{"keys only", RangeOptions{KeysOnly: true}, 3, []*KeyValue{
			{Key: []byte("a"), CreateRevision: 2, ModRevision: 5, Version: 2},
			{Key: []byte("ab"), CreateRevision: 2, ModRevision: 2, Version: 1},
			{Key: []byte("abc"), CreateRevision: 2, ModRevision: 2, Version: 1},
		}},
		{"keys only at rev 4", RangeOptions{KeysOnly: true, Rev: 4, Limit: 1}, 3, []*KeyValue{
			{Key: []byte("a"), CreateRevision: 2, ModRevision: 2, Version: 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rangeOK(t, s, "a", "b\x00", tc.ro)
			require.Equal(t, tc.wantCount, res.Count)
			require.Equal(t, tc.wantKVs, res.KVs)
		})
	}
}

func TestRangeRevisions(t *testing.T) {
	s := rangeFixture(t) // rev 5
	s.setCompactRev(3)
	for _, tc := range []struct {
		name     string
		rev      int64
		wantErr  error
		wantKeys []string
	}{
		{"latest", 0, nil, []string{"a", "ab", "abc", "c", "\xff"}},
		{"negative means latest", -1, nil, []string{"a", "ab", "abc", "c", "\xff"}},
		{"current", 5, nil, []string{"a", "ab", "abc", "c", "\xff"}},
		{"future", 6, ErrFutureRev, nil},
		{"at compact rev is allowed", 3, nil, []string{"a", "ab", "abc", "b", "c", "\xff"}},
		{"below compact rev", 2, ErrCompacted, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Range([]byte("\x00"), []byte("\x00"), RangeOptions{Rev: tc.rev})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Nil(t, res)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantKeys, keysOf(res.KVs))
		})
	}
}

func TestHistoricalReads(t *testing.T) {
	s, _ := openStore(t, Config{})
	putKVs(t, s, 1, "a", "1")           // 2
	putKVs(t, s, 2, "b", "1")           // 3
	deleteRange(t, s, 3, "a", "")       // 4
	putKVs(t, s, 4, "a", "2")           // 5
	putKVs(t, s, 5, "c", "1", "b", "2") // 6
	for _, tc := range []struct {
		name string
		rev  int64
		want []*KeyValue
	}{
		{"rev 1 is empty", 1, nil},
		{"rev 2", 2, []*KeyValue{kvOf("a", "1", 2, 2, 1, 0)}},
		{"rev 3", 3, []*KeyValue{kvOf("a", "1", 2, 2, 1, 0), kvOf("b", "1", 3, 3, 1, 0)}},
		{"rev 4: a deleted", 4, []*KeyValue{kvOf("b", "1", 3, 3, 1, 0)}},
		{"rev 5: a re-created", 5, []*KeyValue{kvOf("a", "2", 5, 5, 1, 0), kvOf("b", "1", 3, 3, 1, 0)}},
		{"rev 6", 6, []*KeyValue{kvOf("a", "2", 5, 5, 1, 0), kvOf("b", "2", 3, 6, 2, 0), kvOf("c", "1", 6, 6, 1, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rangeOK(t, s, "\x00", "\x00", RangeOptions{Rev: tc.rev})
			require.Equal(t, tc.want, res.KVs)
			require.EqualValues(t, len(tc.want), res.Count)
		})
	}
}
