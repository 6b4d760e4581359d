package keel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/wire"
)

// sampleReplies are maintenance responses with every field set.
func sampleReplies() (*StatusResponse, *HashKVResponse, *DefragmentResponse) {
	h := &ResponseHeader{ClusterId: 1 << 63, MemberId: 2, Revision: 3, RaftTerm: 4}
	st := &StatusResponse{
		Header: h, Version: "1.2.3", Leader: 1<<64 - 1, LeaderName: "m1", IsLeader: true, IsLearner: true,
		DbSize: 5, DbSizeInUse: 6, DbSizeQuota: 7, Errors: []string{"no leader", "memberID:2 alarm:NOSPACE"},
		RaftTerm: 8, RaftIndex: 9, RaftLastIndex: 10, RaftAppliedIndex: 11, CompactRevision: 12,
	}
	hk := &HashKVResponse{Header: h, Hash: 1<<32 - 1, CompactRevision: 13, HashRevision: 14}
	df := &DefragmentResponse{Header: h, SizeBefore: 15, SizeAfter: 16, Duration: time.Hour, CommitPause: time.Millisecond}
	return st, hk, df
}

func TestMaintenanceRepliesRoundTrip(t *testing.T) {
	st, hk, df := sampleReplies()
	tests := []struct {
		name   string
		want   any
		encode func(*wire.Encoder)
		decode func(*wire.Decoder) any
	}{
		{"status", st, func(e *wire.Encoder) { encodeStatus(e, st) }, func(d *wire.Decoder) any { return decodeStatus(d) }},
		{"empty status", &StatusResponse{Header: &ResponseHeader{}},
			func(e *wire.Encoder) { encodeStatus(e, &StatusResponse{Header: &ResponseHeader{}}) },
			func(d *wire.Decoder) any { return decodeStatus(d) }},
		{"hashKV", hk, func(e *wire.Encoder) { encodeHashKV(e, hk) }, func(d *wire.Decoder) any { return decodeHashKV(d) }},
		{"defragment", df, func(e *wire.Encoder) { encodeDefragment(e, df) }, func(d *wire.Decoder) any { return decodeDefragment(d) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e wire.Encoder
			tc.encode(&e)
			d := wire.NewDecoder(e.Buf, ErrCorruptCommand)
			got := tc.decode(d)
			require.NoError(t, d.Finish())
			require.Equal(t, tc.want, got)
			for n := range len(e.Buf) { // every truncation fails
				d := wire.NewDecoder(e.Buf[:n], ErrCorruptCommand)
				tc.decode(d)
				require.ErrorIs(t, d.Finish(), ErrCorruptCommand, "%d of %d bytes", n, len(e.Buf))
			}
		})
	}
}

// TestServeMember: a member answers the maintenance requests for itself
// only, and its errors travel as their codes.
func TestServeMember(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	put, err := s.Put(ctx, "k", "v")
	require.NoError(t, err)
	self := s.MemberID()
	tests := []struct {
		name    string
		req     memberRequest
		wantErr error
	}{
		{"status", memberRequest{kind: msgStatus, member: self}, nil},
		{"hashKV", memberRequest{kind: msgHashKV, member: self, rev: put.Header.Revision}, nil},
		{"hashKV of a future revision", memberRequest{kind: msgHashKV, member: self, rev: put.Header.Revision + 1}, ErrFutureRev},
		{"hashKV of a negative revision", memberRequest{kind: msgHashKV, member: self, rev: -1}, ErrInvalidOption},
		{"status of another member", memberRequest{kind: msgStatus, member: self + 1}, ErrMemberNotFound},
		{"defragment of another member", memberRequest{kind: msgDefragment, member: self + 1}, ErrMemberNotFound},
		{"defragment", memberRequest{kind: msgDefragment, member: self}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reply, err := s.handleRPC(ctx, tc.req.encode())
			require.NoError(t, err)
			d := wire.NewDecoder(reply, ErrCorruptCommand)
			code := d.Byte()
			if tc.wantErr != nil {
				require.ErrorIs(t, decodeError(d, code), tc.wantErr)
				return
			}
			require.Zero(t, code)
			var hdr *ResponseHeader
			switch tc.req.kind {
			case msgStatus:
				hdr = decodeStatus(d).Header
			case msgHashKV:
				hdr = decodeHashKV(d).Header
			case msgDefragment:
				hdr = decodeDefragment(d).Header
			}
			require.NoError(t, d.Finish())
			require.Equal(t, self, hdr.MemberId)
		})
	}
	for _, bad := range [][]byte{{msgStatus}, {msgStatus, 1, 0}, {msgHashKV, 1}} {
		_, err := s.handleRPC(ctx, bad)
		require.ErrorIs(t, err, ErrCorruptCommand, "%x", bad)
	}
}

// FuzzMaintenanceMessages: arbitrary bytes never panic the decoders of
// the maintenance requests and replies, and a request they accept
// re-encodes to the same bytes.
func FuzzMaintenanceMessages(f *testing.F) {
	st, hk, df := sampleReplies()
	for _, enc := range []func(*wire.Encoder){
		func(e *wire.Encoder) { encodeStatus(e, st) },
		func(e *wire.Encoder) { encodeHashKV(e, hk) },
		func(e *wire.Encoder) { encodeDefragment(e, df) },
	} {
		var e wire.Encoder
		enc(&e)
		f.Add(e.Buf)
	}
	f.Add(memberRequest{kind: msgHashKV, member: 9, rev: 3}.encode()[1:])
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range []byte{msgStatus, msgHashKV, msgDefragment} {
			if r, err := decodeMemberRequest(kind, b); err == nil {
				require.Equal(t, b, r.encode()[1:])
			}
		}
		for _, decode := range []func(*wire.Decoder){
			func(d *wire.Decoder) { decodeStatus(d) },
			func(d *wire.Decoder) { decodeHashKV(d) },
			func(d *wire.Decoder) { decodeDefragment(d) },
		} {
			d := wire.NewDecoder(b, ErrCorruptCommand)
			decode(d)
			_ = d.Finish()
		}
	})
}
