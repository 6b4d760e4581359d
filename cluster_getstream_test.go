package keel_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// TestClusterGetStreamOnFollower streams a range from a follower of a
// 3-member cluster in many chunks. A linearizable stream sees every write
// the leader completed before it started; a serializable one reads the
// follower's state; both equal a Get at the revision they read.
func TestClusterGetStreamOnFollower(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	l, f := c.Leader(), c.Follower()
	f.SetStreamChunks(2, 8, 0)
	var ops []keel.Op
	for i := range 100 {
		ops = append(ops, keel.OpPut(fmt.Sprintf("key/%03d", i), fmt.Sprintf("v%d", i)))
	}
	_, err := l.Txn(ctx).Then(ops...).Commit()
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		opts []keel.OpOption
	}{
		{"linearizable", nil},
		{"serializable", []keel.OpOption{keel.WithSerializable()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			last, err := l.Put(ctx, "key/100", tc.name) // written on the leader just before
			require.NoError(t, err)
			opts := append([]keel.OpOption{keel.WithPrefix()}, tc.opts...)
			ch, err := f.GetStream(ctx, "key/", opts...)
			require.NoError(t, err)
			var chunks int
			var got keel.GetResponse
			for r := range ch {
				require.NoError(t, r.Err())
				chunks++
				got.Kvs = append(got.Kvs, r.Kvs...)
				if r.Header != nil {
					got.Header, got.More, got.Count = r.Header, r.More, r.Count
				}
			}
			require.Greater(t, chunks, 10)
			require.Equal(t, status(t, f).Header.MemberId, got.Header.MemberId)
			if tc.opts == nil {
				require.GreaterOrEqual(t, got.Header.Revision, last.Header.Revision)
				require.Len(t, got.Kvs, 101)
				require.Equal(t, tc.name, string(got.Kvs[100].Value))
			}
			want, err := f.Get(ctx, "key/", append(opts, keel.WithRev(got.Header.Revision))...)
			require.NoError(t, err)
			want.Header.Revision = got.Header.Revision // Get's is the current revision
			require.Equal(t, want, &got)
		})
	}
}
