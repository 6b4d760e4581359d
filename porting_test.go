package keel

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/wire"
)

// Tests of the clientv3 names that exist for porting: each checks the
// behaviour etcd documents for the name.

// TestTxnResponseGetters checks clientv3's ResponseOp getters on
// TxnResponse.Responses: each returns the response of its kind of op and
// nil for the others, nested transactions included.
func TestTxnResponseGetters(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	_, err := s.Put(ctx, "d", "x")
	require.NoError(t, err)
	tr, err := s.Txn(ctx).Then(
		OpPut("p", "1", WithPrevKV()),
		OpGet("d"),
		OpDelete("d"),
		OpTxn(nil, []Op{OpGet("p")}, nil),
	).Commit()
	require.NoError(t, err)
	require.Len(t, tr.Responses, 4)
	kinds := func(r OpResponse) [4]bool {
		return [4]bool{r.GetResponsePut() != nil, r.GetResponseRange() != nil, r.GetResponseDeleteRange() != nil, r.GetResponseTxn() != nil}
	}
	for i, r := range tr.Responses {
		var want [4]bool
		want[i] = true
		require.Equal(t, want, kinds(r), "response %d", i)
	}
	require.Same(t, tr.Responses[0].Put(), tr.Responses[0].GetResponsePut())
	require.Equal(t, "x", string(tr.Responses[1].GetResponseRange().Kvs[0].Value))
	require.Equal(t, int64(1), tr.Responses[2].GetResponseDeleteRange().Deleted)
	nested := tr.Responses[3].GetResponseTxn()
	require.True(t, nested.Succeeded)
	require.Equal(t, "1", string(nested.Responses[0].GetResponseRange().Kvs[0].Value))
	require.Equal(t, [4]bool{}, kinds(OpResponse{}))
}

// TestLeaseResponseHeaders checks that the lease responses carry a full
// header, embedded as in clientv3 (Revoke's named), and that Grant's Error
// is empty.
func TestLeaseResponseHeaders(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	g, err := s.Grant(ctx, 30)
	require.NoError(t, err)
	require.Empty(t, g.Error)
	put, err := s.Put(ctx, "leased", "v", WithLease(g.ID))
	require.NoError(t, err)
	ka, err := s.KeepAliveOnce(ctx, g.ID)
	require.NoError(t, err)
	ttl, err := s.TimeToLive(ctx, g.ID)
	require.NoError(t, err)
	ls, err := s.Leases(ctx)
	require.NoError(t, err)
	rv, err := s.Revoke(ctx, g.ID)
	require.NoError(t, err)
	for name, h := range map[string]*ResponseHeader{
		"grant": g.ResponseHeader, "keepalive": ka.ResponseHeader, "timetolive": ttl.ResponseHeader,
		"leases": ls.ResponseHeader, "revoke": rv.Header,
	} {
		require.NotNil(t, h, name)
		require.Equal(t, s.MemberID(), h.MemberId, name)
		require.NotZero(t, h.ClusterId, name)
		require.NotZero(t, h.RaftTerm, name)
		require.Positive(t, h.Revision, name)
	}
	require.Equal(t, put.Header.Revision, ka.Revision, "a renewal writes nothing")
	require.Greater(t, rv.Header.Revision, put.Header.Revision, "revoking deletes the key in a new revision")
}

// TestWatchCancelReason checks clientv3's WatchResponse fields and Err:
// a refused request gives CancelReason its error's text, compaction leaves
// it empty, and a hand-made canceled response reports what clientv3's
// would.
func TestWatchCancelReason(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	r1, err := s.Put(ctx, "k", "1")
	require.NoError(t, err)
	_, err = s.Put(ctx, "k", "2")
	require.NoError(t, err)
	_, err = s.Compact(ctx, r1.Header.Revision+1)
	require.NoError(t, err)

	refused := []struct {
		name string
		opts []OpOption
	}{
		{name: "get-only option", opts: []OpOption{WithLimit(1)}},
		{name: "prefix and from-key", opts: []OpOption{WithPrefix(), WithFromKey()}},
		{name: "negative revision", opts: []OpOption{WithRev(-1)}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			var got []WatchResponse
			for wr := range s.Watch(ctx, "k", tc.opts...) {
				got = append(got, wr)
			}
			require.Len(t, got, 1)
			wr := got[0]
			require.True(t, wr.Canceled)
			require.ErrorIs(t, wr.Err(), ErrInvalidOption)
			require.Equal(t, wr.Err().Error(), wr.CancelReason)
			require.Equal(t, s.MemberID(), wr.Header.MemberId)
		})
	}
	t.Run("compacted", func(t *testing.T) {
		var got []WatchResponse
		for wr := range s.Watch(ctx, "k", WithRev(r1.Header.Revision)) {
			got = append(got, wr)
		}
		require.Len(t, got, 1)
		require.True(t, got[0].Canceled)
		require.ErrorIs(t, got[0].Err(), ErrCompacted)
		require.Empty(t, got[0].CancelReason)
		require.NotNil(t, got[0].Header)
	})
	t.Run("hand-made", func(t *testing.T) {
		require.NoError(t, (&WatchResponse{}).Err())
		require.ErrorIs(t, (&WatchResponse{Canceled: true}).Err(), ErrFutureRev)
		require.EqualError(t, (&WatchResponse{Canceled: true, CancelReason: "boom"}).Err(), "boom")
		require.ErrorIs(t, (&WatchResponse{Canceled: true, CompactRevision: 3, CancelReason: "x"}).Err(), ErrCompacted)
	})
}

// TestOpOptionHelpers checks NewOp, IsOptsWithPrefix, IsOptsWithFromKey
// and the Op accessors and setters clientv3 has.
func TestOpOptionHelpers(t *testing.T) {
	require.True(t, IsOptsWithPrefix([]OpOption{WithLimit(3), WithPrefix()}))
	require.False(t, IsOptsWithPrefix([]OpOption{WithFromKey()}))
	require.True(t, IsOptsWithFromKey([]OpOption{WithFromKey(), WithRev(2)}))
	require.False(t, IsOptsWithFromKey([]OpOption{WithPrefix()}))
	require.False(t, IsOptsWithPrefix(nil))

	op := NewOp()
	require.False(t, op.IsGet() || op.IsPut() || op.IsDelete() || op.IsTxn(), "NewOp has no type")
	s := openSingle(t)
	_, err := s.Do(testCtx(t), *op)
	require.ErrorIs(t, err, ErrInvalidOption)

	get := OpGet("a", WithPrefix(), WithLimit(7), WithSort(SortByVersion, SortDescend),
		WithMinModRev(1), WithMaxModRev(2), WithMinCreateRev(3), WithMaxCreateRev(4))
	require.Equal(t, int64(7), get.Limit())
	require.True(t, get.IsSortSet())
	require.True(t, get.IsOptsWithPrefix())
	require.False(t, get.IsOptsWithFromKey())
	require.Equal(t, []int64{1, 2, 3, 4}, []int64{get.MinModRev(), get.MaxModRev(), get.MinCreateRev(), get.MaxCreateRev()})
	require.False(t, OpGet("a").IsSortSet())
	require.True(t, OpGet("a", WithSort(SortByKey, SortAscend)).IsSortSet())

	put := OpPut("k", "v", WithPrevKV())
	require.True(t, put.IsPrevKV())
	put.WithKeyBytes([]byte("k2"))
	put.WithValueBytes([]byte("v2"))
	require.Equal(t, "k2", string(put.KeyBytes()))
	require.Equal(t, "v2", string(put.ValueBytes()))
	del := OpDelete("a")
	del.WithRangeBytes([]byte("c"))
	require.Equal(t, "c", string(del.RangeBytes()))

	w := withOptions(Op{t: tRange, key: []byte("w")}, []OpOption{WithFragment(), WithProgressNotify(), WithCreatedNotify(), WithFilterPut(), WithFilterDelete()})
	require.True(t, w.IsFragment() && w.IsProgressNotify() && w.IsCreatedNotify() && w.IsFilterPut() && w.IsFilterDelete())
	require.False(t, get.IsFragment() || get.IsProgressNotify() || get.IsCreatedNotify() || get.IsFilterPut() || get.IsFilterDelete())
}

// TestWatchOnlyOptionsAccepted checks that WithFragment and WithWatchBufLog
// are accepted by Watch and change nothing there, and are refused on a Get
// like Keel's other watch-only options.
func TestWatchOnlyOptionsAccepted(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	ch := s.Watch(ctx, "f", WithFragment(), WithWatchBufLog())
	put, err := s.Put(ctx, "f", "big")
	require.NoError(t, err)
	wr := <-ch
	require.NoError(t, wr.Err())
	require.Len(t, wr.Events, 1)
	require.Equal(t, *put.Header, *wr.Header, "the watch response's header is the member's at the put's revision")
	for _, opt := range []OpOption{WithFragment(), WithWatchBufLog()} {
		_, err = s.Get(ctx, "f", opt)
		require.ErrorIs(t, err, ErrInvalidOption)
	}
}

func TestOpCompact(t *testing.T) {
	require.Equal(t, CompactOp{revision: 5}, OpCompact(5))
	require.Equal(t, CompactOp{revision: 6, physical: true}, OpCompact(6, WithCompactPhysical(), nil))
}

// TestCmpAccessors checks clientv3's Cmp accessors and setters and that
// Clone shares no memory.
func TestCmpAccessors(t *testing.T) {
	c := Compare(Value("k"), "=", "v")
	require.Equal(t, "v", string(c.ValueBytes()))
	require.Nil(t, (&Cmp{target: CompareVersion}).ValueBytes())
	d := c.Clone()
	d.KeyBytes()[0] = 'x'
	d.ValueBytes()[0] = 'w'
	require.Equal(t, "k", string(c.KeyBytes()))
	require.Equal(t, "v", string(c.ValueBytes()))

	s := openSingle(t)
	ctx := testCtx(t)
	_, err := s.Put(ctx, "k2", "v2")
	require.NoError(t, err)
	c.WithKeyBytes([]byte("k2"))
	c.WithValueBytes([]byte("v2"))
	tr, err := s.Txn(ctx).If(c).Commit()
	require.NoError(t, err)
	require.True(t, tr.Succeeded, "the compare looks at the key and value set on it")
}

// TestErrorNames checks etcd's spellings: the same values as Keel's names,
// and the errors that name a cause match their general error too.
func TestErrorNames(t *testing.T) {
	same := map[string][2]error{
		"LeaseExist":            {ErrLeaseExist, ErrLeaseExists},
		"MemberExist":           {ErrMemberExist, ErrMemberExists},
		"PeerURLExist":          {ErrPeerURLExist, ErrPeerURLExists},
		"MemberBadURLs":         {ErrMemberBadURLs, ErrInvalidPeerURL},
		"MemberLearnerNotReady": {ErrMemberLearnerNotReady, ErrLearnerNotReady},
		"Closed":                {ErrClosed, ErrStopped},
		"ClusterIdMismatch":     {ErrClusterIdMismatch, ErrClusterIDMismatch},
	}
	for name, p := range same {
		require.Same(t, p[0], p[1], name)
	}
	wraps := map[string][2]error{
		"TimeoutDueToLeaderFail":     {ErrTimeoutDueToLeaderFail, ErrTimeout},
		"TimeoutDueToConnectionLost": {ErrTimeoutDueToConnectionLost, ErrTimeout},
		"TimeoutWaitAppliedIndex":    {ErrTimeoutWaitAppliedIndex, ErrTimeout},
		"MemberNotEnoughStarted":     {ErrMemberNotEnoughStarted, ErrUnhealthy},
	}
	for name, p := range wraps {
		require.ErrorIs(t, p[0], p[1], name)
		require.NotErrorIs(t, p[1], p[0], name)
	}
}

// TestErrorCodesRoundTrip checks that every error with a wire code comes
// back as itself from another member, also when wrapped, and that an
// error naming a cause keeps it rather than becoming its general error.
func TestErrorCodesRoundTrip(t *testing.T) {
	// roundTrip encodes err as a member replies with it and decodes it.
	roundTrip := func(err error) (byte, error) {
		t.Helper()
		var e wire.Encoder
		encodeError(&e, err)
		d := wire.NewDecoder(e.Buf[1:], ErrCorruptCommand)
		got := decodeError(d, e.Buf[0])
		require.NoError(t, d.Finish())
		return e.Buf[0], got
	}
	for code, want := range errorCodes {
		if want == nil {
			continue
		}
		for _, err := range []error{want, fmt.Errorf("context: %w", want)} {
			gotCode, got := roundTrip(err)
			require.Equal(t, byte(code), gotCode, "%v", err)
			require.Same(t, want, got, "code %d", code)
		}
	}
	// A timeout wrapping ErrStopped stays a timeout; a removal that timed
	// out is a timeout.
	for _, tc := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("%w: %w", ErrTimeout, ErrStopped), ErrTimeout},
		{fmt.Errorf("%w: %w", ErrTimeoutDueToLeaderFail, ErrRemoved), ErrTimeoutDueToLeaderFail},
		{errors.Join(ErrMemberNotEnoughStarted, ErrStopped), ErrMemberNotEnoughStarted},
	} {
		_, got := roundTrip(tc.err)
		require.Same(t, tc.want, got, "%v", tc.err)
	}
	// callLeader retries the replies that say the request was not served.
	for code, err := range errorCodes {
		if err == nil {
			continue
		}
		retry := err == ErrNotLeader || err == ErrNoLeader || errors.Is(err, ErrTimeout)
		require.Equal(t, retry, retryableCode(byte(code)), "%v", err)
	}
	require.False(t, retryableCode(codeOther))
}

// TestWaitAppliedTimeout checks that a call whose context ends while the
// member has not yet applied the index it waits for reports
// ErrTimeoutWaitAppliedIndex, etcd's error for a read that waited too long
// for the applied index, and the context's error.
func TestWaitAppliedTimeout(t *testing.T) {
	f := &fsm{notify: make(chan struct{})}
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	err := f.waitApplied(ctx, 1, nil)
	require.ErrorIs(t, err, ErrTimeoutWaitAppliedIndex)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, f.waitApplied(ctx, 0, nil), "an index already applied needs no wait")
}
