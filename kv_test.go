package keel

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func keys(kvs []*KeyValue) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = string(kv.Key)
	}
	return out
}

func TestKVRevisionsAndVersions(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	steps := []struct {
		name    string
		do      func() (int64, error) // returns the header revision
		wantRev int64
		check   func(t *testing.T)
	}{
		{name: "first put creates revision 2", do: func() (int64, error) {
			r, err := s.Put(ctx, "foo", "a")
			return r.Header.Revision, err
		}, wantRev: 2, check: func(t *testing.T) {
			kv := mustGet(t, s, "foo")
			require.Equal(t, KeyValue{Key: []byte("foo"), Value: []byte("a"), CreateRevision: 2, ModRevision: 2, Version: 1}, *kv)
		}},
		{name: "second put bumps version", do: func() (int64, error) {
			r, err := s.Put(ctx, "foo", "b")
			return r.Header.Revision, err
		}, wantRev: 3, check: func(t *testing.T) {
			kv := mustGet(t, s, "foo")
			require.Equal(t, int64(2), kv.CreateRevision)
			require.Equal(t, int64(3), kv.ModRevision)
			require.Equal(t, int64(2), kv.Version)
		}},
		{name: "delete of a missing key keeps the revision", do: func() (int64, error) {
			r, err := s.Delete(ctx, "nope")
			require.Zero(t, r.Deleted)
			return r.Header.Revision, err
		}, wantRev: 3},
		{name: "delete bumps revision", do: func() (int64, error) {
			r, err := s.Delete(ctx, "foo", WithPrevKV())
			require.Equal(t, int64(1), r.Deleted)
			require.Equal(t, "b", string(r.PrevKvs[0].Value))
			return r.Header.Revision, err
		}, wantRev: 4, check: func(t *testing.T) {
			gr, err := s.Get(ctx, "foo")
			require.NoError(t, err)
			require.Empty(t, gr.Kvs)
			require.Zero(t, gr.Count)
		}},
		{name: "recreate starts a new generation", do: func() (int64, error) {
			r, err := s.Put(ctx, "foo", "c")
			return r.Header.Revision, err
		}, wantRev: 5, check: func(t *testing.T) {
			kv := mustGet(t, s, "foo")
			require.Equal(t, int64(5), kv.CreateRevision)
			require.Equal(t, int64(1), kv.Version)
		}},
		{name: "historical read before the delete", do: func() (int64, error) {
			r, err := s.Get(ctx, "foo", WithRev(3))
			require.Equal(t, "b", string(r.Kvs[0].Value))
			return r.Header.Revision, err
		}, wantRev: 5},
		{name: "txn with three changes takes one revision", do: func() (int64, error) {
			r, err := s.Txn(ctx).Then(OpPut("t1", "x"), OpPut("t2", "y"), OpDelete("foo")).Commit()
			return r.Header.Revision, err
		}, wantRev: 6, check: func(t *testing.T) {
			for _, k := range []string{"t1", "t2"} {
				require.Equal(t, int64(6), mustGet(t, s, k).ModRevision)
			}
		}},
		{name: "read-only txn does not bump", do: func() (int64, error) {
			r, err := s.Txn(ctx).If(Compare(Version("t1"), "=", 1)).Then(OpGet("t1")).Commit()
			require.True(t, r.Succeeded)
			return r.Header.Revision, err
		}, wantRev: 6},
		{name: "failed compare with no else writes does not bump", do: func() (int64, error) {
			r, err := s.Txn(ctx).If(Compare(Value("t1"), "=", "zzz")).Then(OpPut("t1", "never")).Commit()
			require.False(t, r.Succeeded)
			return r.Header.Revision, err
		}, wantRev: 6},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			rev, err := st.do()
			require.NoError(t, err)
			require.Equal(t, st.wantRev, rev)
			if st.check != nil {
				st.check(t)
			}
		})
	}
	_, err := s.Get(ctx, "foo", WithRev(100))
	require.ErrorIs(t, err, ErrFutureRev)
}

func mustGet(t *testing.T, s *Store, key string) *KeyValue {
	t.Helper()
	gr, err := s.Get(context.Background(), key)
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 1, "key %q", key)
	return gr.Kvs[0]
}

func TestKVGetOptions(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	// Revisions: a=2, b=3, c=4, d=5, b again=6, "e\xff"=7.
	for _, kv := range [][2]string{{"a", "4"}, {"b", "3"}, {"c", "2"}, {"d", "1"}, {"b", "5"}, {"e\xff", "0"}} {
		_, err := s.Put(ctx, kv[0], kv[1])
		require.NoError(t, err)
	}
	tests := []struct {
		name      string
		key       string
		opts      []OpOption
		wantKeys  []string
		wantCount int64
		wantMore  bool
	}{
		{name: "single key", key: "b", wantKeys: []string{"b"}, wantCount: 1},
		{name: "missing key", key: "zz", wantKeys: []string{}, wantCount: 0},
		{name: "range", key: "b", opts: []OpOption{WithRange("d")}, wantKeys: []string{"b", "c"}, wantCount: 2},
		{name: "range end before key is empty", key: "d", opts: []OpOption{WithRange("a")}, wantKeys: []string{}, wantCount: 0},
		{name: "prefix", key: "e", opts: []OpOption{WithPrefix()}, wantKeys: []string{"e\xff"}, wantCount: 1},
		{name: "all keys with empty prefix", key: "", opts: []OpOption{WithPrefix()}, wantKeys: []string{"a", "b", "c", "d", "e\xff"}, wantCount: 5},
		{name: "from key", key: "c", opts: []OpOption{WithFromKey()}, wantKeys: []string{"c", "d", "e\xff"}, wantCount: 3},
		{name: "limit sets more, count is total", key: "a", opts: []OpOption{WithFromKey(), WithLimit(2)}, wantKeys: []string{"a", "b"}, wantCount: 5, wantMore: true},
		{name: "limit equal to count", key: "a", opts: []OpOption{WithFromKey(), WithLimit(5)}, wantKeys: []string{"a", "b", "c", "d", "e\xff"}, wantCount: 5},
		{name: "sort by value descending", key: "a", opts: []OpOption{WithFromKey(), WithSort(SortByValue, SortDescend)}, wantKeys: []string{"b", "a", "c", "d", "e\xff"}, wantCount: 5},
		{name: "sort by mod revision with limit", key: "a", opts: []OpOption{WithFromKey(), WithSort(SortByModRevision, SortDescend), WithLimit(2)}, wantKeys: []string{"e\xff", "b"}, wantCount: 5, wantMore: true},
		{name: "sort by version", key: "a", opts: []OpOption{WithFromKey(), WithSort(SortByVersion, SortDescend), WithLimit(1)}, wantKeys: []string{"b"}, wantCount: 5, wantMore: true},
		{name: "first create", key: "", opts: WithFirstCreate(), wantKeys: []string{"a"}, wantCount: 5, wantMore: true},
		{name: "last create", key: "", opts: WithLastCreate(), wantKeys: []string{"e\xff"}, wantCount: 5, wantMore: true},
		{name: "min mod rev filter keeps count", key: "a", opts: []OpOption{WithFromKey(), WithMinModRev(5)}, wantKeys: []string{"b", "d", "e\xff"}, wantCount: 5},
		{name: "max create rev filter", key: "a", opts: []OpOption{WithFromKey(), WithMaxCreateRev(3)}, wantKeys: []string{"a", "b"}, wantCount: 5},
		{name: "min create rev filter", key: "a", opts: []OpOption{WithFromKey(), WithMinCreateRev(4)}, wantKeys: []string{"c", "d", "e\xff"}, wantCount: 5},
		{name: "max mod rev filter", key: "a", opts: []OpOption{WithFromKey(), WithMaxModRev(4)}, wantKeys: []string{"a", "c"}, wantCount: 5},
		{name: "historical range", key: "a", opts: []OpOption{WithFromKey(), WithRev(3)}, wantKeys: []string{"a", "b"}, wantCount: 2},
		{name: "count only", key: "a", opts: []OpOption{WithFromKey(), WithCountOnly()}, wantKeys: []string{}, wantCount: 5},
		{name: "serializable", key: "b", opts: []OpOption{WithSerializable()}, wantKeys: []string{"b"}, wantCount: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gr, err := s.Get(ctx, tc.key, tc.opts...)
			require.NoError(t, err)
			require.Equal(t, tc.wantKeys, append([]string{}, keys(gr.Kvs)...))
			require.Equal(t, tc.wantCount, gr.Count)
			require.Equal(t, tc.wantMore, gr.More)
			require.Equal(t, int64(7), gr.Header.Revision)
		})
	}
	gr, err := s.Get(ctx, "b", WithKeysOnly())
	require.NoError(t, err)
	require.Empty(t, gr.Kvs[0].Value)
	require.Equal(t, int64(2), gr.Kvs[0].Version)
}

func TestKVPutOptions(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	_, err := s.Put(ctx, "k", "v1")
	require.NoError(t, err)

	pr, err := s.Put(ctx, "k", "v2", WithPrevKV())
	require.NoError(t, err)
	require.Equal(t, "v1", string(pr.PrevKv.Value))

	pr, err = s.Put(ctx, "new", "x", WithPrevKV())
	require.NoError(t, err)
	require.Nil(t, pr.PrevKv)

	// WithIgnoreValue keeps the value but still writes a revision.
	pr, err = s.Put(ctx, "k", "", WithIgnoreValue())
	require.NoError(t, err)
	kv := mustGet(t, s, "k")
	require.Equal(t, "v2", string(kv.Value))
	require.Equal(t, pr.Header.Revision, kv.ModRevision)
	require.Equal(t, int64(3), kv.Version)

	pr, err = s.Put(ctx, "k", "v3", WithIgnoreLease())
	require.NoError(t, err)
	require.Equal(t, "v3", string(mustGet(t, s, "k").Value))

	errs := []struct {
		name string
		key  string
		val  string
		opts []OpOption
		want error
	}{
		{name: "empty key", key: "", val: "v", want: ErrEmptyKey},
		{name: "ignore value on missing key", key: "missing", opts: []OpOption{WithIgnoreValue()}, want: ErrKeyNotFound},
		{name: "ignore lease on missing key", key: "missing", val: "v", opts: []OpOption{WithIgnoreLease()}, want: ErrKeyNotFound},
		{name: "ignore value with a value", key: "k", val: "v", opts: []OpOption{WithIgnoreValue()}, want: ErrValueProvided},
		{name: "ignore lease with a lease", key: "k", val: "v", opts: []OpOption{WithIgnoreLease(), WithLease(7)}, want: ErrLeaseProvided},
		{name: "unknown lease", key: "k", val: "v", opts: []OpOption{WithLease(7)}, want: ErrLeaseNotFound},
		{name: "get option on put", key: "k", val: "v", opts: []OpOption{WithLimit(1)}, want: ErrInvalidOption},
		{name: "too large", key: "k", val: strings.Repeat("x", defaultMaxRequestBytes), want: ErrRequestTooLarge},
	}
	before := mustGet(t, s, "k")
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Put(ctx, tc.key, tc.val, tc.opts...)
			require.ErrorIs(t, err, tc.want)
		})
	}
	require.Equal(t, before, mustGet(t, s, "k"), "a rejected put changed the key")
}

func TestKVDelete(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	for _, k := range []string{"a/1", "a/2", "a/3", "b"} {
		_, err := s.Put(ctx, k, k)
		require.NoError(t, err)
	}
	tests := []struct {
		name     string
		key      string
		opts     []OpOption
		wantDel  int64
		wantPrev []string
	}{
		{name: "single with prev", key: "a/1", opts: []OpOption{WithPrevKV()}, wantDel: 1, wantPrev: []string{"a/1"}},
		{name: "prefix without prev", key: "a/", opts: []OpOption{WithPrefix()}, wantDel: 2},
		{name: "from key with prev", key: "a", opts: []OpOption{WithFromKey(), WithPrevKV()}, wantDel: 1, wantPrev: []string{"b"}},
		{name: "nothing left", key: "", opts: []OpOption{WithPrefix()}, wantDel: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dr, err := s.Delete(ctx, tc.key, tc.opts...)
			require.NoError(t, err)
			require.Equal(t, tc.wantDel, dr.Deleted)
			if tc.wantPrev == nil {
				require.Empty(t, dr.PrevKvs)
			} else {
				require.Equal(t, tc.wantPrev, keys(dr.PrevKvs))
			}
		})
	}
	_, err := s.Delete(ctx, "x", WithLimit(1))
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = s.Delete(ctx, "")
	require.ErrorIs(t, err, ErrEmptyKey)
}

func TestKVTxnCompares(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	pr, err := s.Put(ctx, "k", "v", WithPrevKV())
	require.NoError(t, err)
	rev := pr.Header.Revision
	_, err = s.Put(ctx, "r/1", "x")
	require.NoError(t, err)
	_, err = s.Put(ctx, "r/2", "y")
	require.NoError(t, err)
	tests := []struct {
		name string
		cmp  Cmp
		want bool
	}{
		{name: "value equal", cmp: Compare(Value("k"), "=", "v"), want: true},
		{name: "value greater", cmp: Compare(Value("k"), ">", "a"), want: true},
		{name: "value less", cmp: Compare(Value("k"), "<", "a"), want: false},
		{name: "value not equal", cmp: Compare(Value("k"), "!=", "v"), want: false},
		{name: "value on missing key is false", cmp: Compare(Value("missing"), "!=", "v"), want: false},
		{name: "version", cmp: Compare(Version("k"), "=", 1), want: true},
		{name: "create revision", cmp: Compare(CreateRevision("k"), "=", rev), want: true},
		{name: "mod revision", cmp: Compare(ModRevision("k"), "<", rev+1), want: true},
		{name: "lease", cmp: Compare(LeaseValue("k"), "=", NoLease), want: true},
		{name: "missing key has create revision 0", cmp: Compare(CreateRevision("missing"), "=", 0), want: true},
		{name: "missing key has version 0", cmp: Compare(Version("missing"), ">", 0), want: false},
		{name: "range all match", cmp: Compare(Version("r/"), "=", 1).WithPrefix(), want: true},
		{name: "range one fails", cmp: Compare(Value("r/1"), "=", "x").WithRange("r/3"), want: false},
		{name: "int64 value", cmp: Compare(Version("k"), "=", int64(1)), want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := s.Txn(ctx).If(tc.cmp).Then(OpGet("k")).Else(OpGet("r/1")).Commit()
			require.NoError(t, err)
			require.Equal(t, tc.want, tr.Succeeded)
			want := "k"
			if !tc.want {
				want = "r/1"
			}
			require.Equal(t, want, string(tr.Responses[0].Get().Kvs[0].Key))
		})
	}
	bad := []struct {
		name string
		cmp  Cmp
		want error
	}{
		{name: "bad operator", cmp: Compare(Value("k"), "~", "v"), want: ErrInvalidOption},
		{name: "bad value type", cmp: Compare(Version("k"), "=", "1"), want: ErrInvalidOption},
		{name: "bad string type", cmp: Compare(Value("k"), "=", 1), want: ErrInvalidOption},
		{name: "empty key", cmp: Compare(Value(""), "=", "v"), want: ErrEmptyKey},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Txn(ctx).If(tc.cmp).Commit()
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestKVTxnSemantics(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	_, err := s.Put(ctx, "a", "1")
	require.NoError(t, err)

	t.Run("reads see earlier writes of the txn", func(t *testing.T) {
		tr, err := s.Txn(ctx).Then(OpPut("b", "2"), OpGet("b"), OpDelete("a"), OpGet("a")).Commit()
		require.NoError(t, err)
		require.Equal(t, "2", string(tr.Responses[1].Get().Kvs[0].Value))
		require.Empty(t, tr.Responses[3].Get().Kvs)
		require.Equal(t, int64(1), tr.Responses[2].Del().Deleted)
	})
	t.Run("nested compares see the state before the txn", func(t *testing.T) {
		// "c" does not exist before the txn; the nested compare must not
		// see the put made earlier in the same txn.
		tr, err := s.Txn(ctx).Then(
			OpPut("c", "3"),
			OpTxn([]Cmp{Compare(CreateRevision("c"), "=", 0)}, []Op{OpPut("seen", "before")}, []Op{OpPut("seen", "after")}),
		).Commit()
		require.NoError(t, err)
		require.True(t, tr.Responses[1].Txn().Succeeded)
		require.Equal(t, "before", string(mustGet(t, s, "seen").Value))
	})
	t.Run("nested branches may reuse keys", func(t *testing.T) {
		_, err := s.Txn(ctx).Then(OpTxn(nil, []Op{OpPut("x", "1")}, []Op{OpPut("x", "2")})).Commit()
		require.NoError(t, err)
	})
	t.Run("failing op leaves nothing applied", func(t *testing.T) {
		before := mustGet(t, s, "b")
		_, err := s.Txn(ctx).Then(OpPut("b", "changed"), OpPut("missing", "", WithIgnoreValue())).Commit()
		require.ErrorIs(t, err, ErrKeyNotFound)
		require.Equal(t, before, mustGet(t, s, "b"))
	})
	t.Run("future revision read inside a write txn fails whole", func(t *testing.T) {
		_, err := s.Txn(ctx).Then(OpPut("b", "changed"), OpGet("b", WithRev(1000))).Commit()
		require.ErrorIs(t, err, ErrFutureRev)
		require.Equal(t, "2", string(mustGet(t, s, "b").Value))
	})
	t.Run("Do runs single ops", func(t *testing.T) {
		r, err := s.Do(ctx, OpPut("do", "1"))
		require.NoError(t, err)
		require.NotNil(t, r.Put())
		r, err = s.Do(ctx, OpGet("do"))
		require.NoError(t, err)
		require.Equal(t, "1", string(r.Get().Kvs[0].Value))
		r, err = s.Do(ctx, OpDelete("do"))
		require.NoError(t, err)
		require.Equal(t, int64(1), r.Del().Deleted)
	})
}

func TestKVTxnLimits(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	many := func(n int) []Op {
		ops := make([]Op, n)
		for i := range ops {
			ops[i] = OpPut(fmt.Sprintf("k%03d", i), "v")
		}
		return ops
	}
	manyCmps := make([]Cmp, 129)
	for i := range manyCmps {
		manyCmps[i] = Compare(Version("k"), "=", 0)
	}
	tests := []struct {
		name string
		txn  func() (*TxnResponse, error)
		want error
	}{
		{name: "128 ops allowed", txn: func() (*TxnResponse, error) { return s.Txn(ctx).Then(many(128)...).Commit() }},
		{name: "129 ops rejected", txn: func() (*TxnResponse, error) { return s.Txn(ctx).Then(many(129)...).Commit() }, want: ErrTooManyOps},
		{name: "129 compares rejected", txn: func() (*TxnResponse, error) { return s.Txn(ctx).If(manyCmps...).Commit() }, want: ErrTooManyOps},
		{name: "duplicate put", txn: func() (*TxnResponse, error) { return s.Txn(ctx).Then(OpPut("d", "1"), OpPut("d", "2")).Commit() }, want: ErrDuplicateKey},
		{name: "put inside deleted range", txn: func() (*TxnResponse, error) {
			return s.Txn(ctx).Then(OpDelete("d", WithPrefix()), OpPut("d/1", "2")).Commit()
		}, want: ErrDuplicateKey},
		{name: "put after from-key delete", txn: func() (*TxnResponse, error) {
			return s.Txn(ctx).Then(OpDelete("a", WithFromKey()), OpPut("zzz", "2")).Commit()
		}, want: ErrDuplicateKey},
		{name: "nested put duplicates outer put", txn: func() (*TxnResponse, error) {
			return s.Txn(ctx).Then(OpPut("d", "1"), OpTxn(nil, []Op{OpPut("d", "2")}, nil)).Commit()
		}, want: ErrDuplicateKey},
		{name: "overlapping deletes allowed", txn: func() (*TxnResponse, error) {
			return s.Txn(ctx).Then(OpDelete("d", WithPrefix()), OpDelete("d/1")).Commit()
		}},
		{name: "If twice", txn: func() (*TxnResponse, error) { return s.Txn(ctx).If().If().Commit() }, want: ErrInvalidTxn},
		{name: "Then after Else", txn: func() (*TxnResponse, error) { return s.Txn(ctx).Else().Then().Commit() }, want: ErrInvalidTxn},
		{name: "prefix with from key", txn: func() (*TxnResponse, error) {
			return s.Txn(ctx).Then(OpGet("a", WithPrefix(), WithFromKey())).Commit()
		}, want: ErrInvalidOption},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.txn()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}
