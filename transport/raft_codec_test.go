package transport

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// hdr is a filled-in RPC header for codec tests.
var hdr = raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("node1"), Addr: []byte("127.0.0.1:7000")}

// raftRequests is one of each request raft sends, with every field set.
func raftRequests() []struct {
	name string
	cmd  any
} {
	at := time.Unix(1700000000, 123456789)
	return []struct {
		name string
		cmd  any
	}{
		{"append entries", &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 7, Leader: []byte("l"), PrevLogEntry: 41, PrevLogTerm: 6,
			Entries: []*raft.Log{
				{Index: 42, Term: 7, Type: raft.LogCommand, Data: []byte("put a=1"), AppendedAt: at},
				{Index: 43, Term: 7, Type: raft.LogNoop},
				{Index: 44, Term: 7, Type: raft.LogConfiguration, Data: []byte{0, 1, 2}, Extensions: []byte("ext")},
			},
			LeaderCommitIndex: 1<<64 - 1}},
		{"heartbeat", &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 9}},
		{"request vote", &raft.RequestVoteRequest{RPCHeader: hdr, Term: 3, Candidate: []byte("c"), LastLogIndex: 10, LastLogTerm: 2, LeadershipTransfer: true}},
		{"pre-vote", &raft.RequestPreVoteRequest{RPCHeader: hdr, Term: 4, LastLogIndex: 11, LastLogTerm: 3}},
		{"install snapshot", &raft.InstallSnapshotRequest{RPCHeader: hdr, SnapshotVersion: raft.SnapshotVersionMax, Term: 5, Leader: []byte("l"),
			LastLogIndex: 100, LastLogTerm: 5, Peers: []byte("p"), Configuration: []byte("conf"), ConfigurationIndex: 90, Size: 1 << 40}},
		{"timeout now", &raft.TimeoutNowRequest{RPCHeader: hdr}},
		{"empty header", &raft.TimeoutNowRequest{}},
	}
}

// splitRaftFrame checks a frame's header and returns its kind and payload.
func splitRaftFrame(tb testing.TB, frame []byte) (byte, []byte) {
	tb.Helper()
	require.GreaterOrEqual(tb, len(frame), raftFrameHeaderSize)
	require.Equal(tb, uint32(len(frame)-raftFrameHeaderSize), binary.BigEndian.Uint32(frame[1:raftFrameHeaderSize]))
	return frame[0], frame[raftFrameHeaderSize:]
}

func TestRaftRequestRoundTrip(t *testing.T) {
	for _, tc := range raftRequests() {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := encodeRaftRequest([]byte("stale bytes"), tc.cmd)
			require.NoError(t, err)
			kind, p := splitRaftFrame(t, frame)
			got, err := decodeRaftRequest(kind, p)
			require.NoError(t, err)
			require.Equal(t, tc.cmd, got)
		})
	}
}

func TestRaftResponseRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		resp, into any
	}{
		{"append entries", &raft.AppendEntriesResponse{RPCHeader: hdr, Term: 7, LastLog: 44, Success: true, NoRetryBackoff: true}, &raft.AppendEntriesResponse{}},
		{"append entries failed", &raft.AppendEntriesResponse{Term: 8, LastLog: 3}, &raft.AppendEntriesResponse{}},
		{"request vote", &raft.RequestVoteResponse{RPCHeader: hdr, Term: 3, Peers: []byte("p"), Granted: true}, &raft.RequestVoteResponse{}},
		{"pre-vote", &raft.RequestPreVoteResponse{RPCHeader: hdr, Term: 4, Granted: true}, &raft.RequestPreVoteResponse{}},
		{"install snapshot", &raft.InstallSnapshotResponse{RPCHeader: hdr, Term: 5, Success: true}, &raft.InstallSnapshotResponse{}},
		{"timeout now", &raft.TimeoutNowResponse{RPCHeader: hdr}, &raft.TimeoutNowResponse{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := encodeRaftReply(nil, tc.resp, nil)
			require.NoError(t, err)
			status, p := splitRaftFrame(t, frame)
			require.Equal(t, raftReplyOK, status)
			require.NoError(t, decodeRaftResponse(p, tc.into))
			require.Equal(t, tc.resp, tc.into)
		})
	}
	t.Run("error", func(t *testing.T) {
		frame, err := encodeRaftReply(nil, &raft.AppendEntriesResponse{Term: 1}, errors.New("raft: boom"))
		require.NoError(t, err)
		status, p := splitRaftFrame(t, frame)
		require.Equal(t, raftReplyError, status)
		require.Equal(t, "raft: boom", string(p))
	})
}

// TestRaftDecodeAliasesPayloadSafely checks that decoded entries share the
// payload (no copy) but cannot overwrite each other when appended to.
func TestRaftDecodeAliasesPayloadSafely(t *testing.T) {
	req := &raft.AppendEntriesRequest{Term: 1, Entries: []*raft.Log{{Index: 1, Data: []byte("aa")}, {Index: 2, Data: []byte("bb")}}}
	frame, err := encodeRaftRequest(nil, req)
	require.NoError(t, err)
	kind, p := splitRaftFrame(t, frame)
	got, err := decodeRaftRequest(kind, p)
	require.NoError(t, err)
	ae := got.(*raft.AppendEntriesRequest)
	_ = append(ae.Entries[0].Data, "XXXXXXXX"...)
	require.Equal(t, "bb", string(ae.Entries[1].Data))
	require.Equal(t, "aa", string(ae.Entries[0].Data))
}

func TestRaftDecodeRejects(t *testing.T) {
	valid, err := encodeRaftRequest(nil, raftRequests()[0].cmd)
	require.NoError(t, err)
	_, validPayload := splitRaftFrame(t, valid)
	snap, err := encodeRaftRequest(nil, &raft.InstallSnapshotRequest{Size: 1})
	require.NoError(t, err)
	_, snapPayload := splitRaftFrame(t, snap)
	negSize := append([]byte(nil), snapPayload[:len(snapPayload)-1]...)
	negSize = binary.AppendVarint(negSize, -1)
	tests := []struct {
		name    string
		kind    byte
		payload []byte
		what    string // in the error's text
	}{
		{"unknown kind", 99, validPayload, "raft request kind 99"},
		{"empty", raftAppendEntries, nil, "truncated varint"},
		{"truncated", raftAppendEntries, validPayload[:len(validPayload)-1], "truncated uvarint"},
		{"trailing byte", raftAppendEntries, append(append([]byte(nil), validPayload...), 0), "1 trailing bytes"},
		{"entry count past the end", raftAppendEntries, []byte{0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0x03}, "count 65535"},
		{"byte string past the end", raftTimeoutNow, []byte{0, 9, 'a'}, "length 9 exceeds the 1 bytes left"},
		{"overlong uvarint", raftTimeoutNow, []byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "length overflows 64 bits"},
		{"non-minimal uvarint", raftRequestPreVote, []byte{0, 0, 0, 0x81, 0x00, 0, 0}, "non-minimal uvarint"},
		{"non-minimal varint", raftTimeoutNow, []byte{0x80, 0x00, 0, 0}, "non-minimal varint"},
		{"entry count past the smallest entries", raftAppendEntries, []byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "count 2 of 6-byte elements"},
		{"bad bool", raftRequestVote, []byte{0, 0, 0, 1, 0, 0, 0, 2}, "bool not 0 or 1"},
		{"negative snapshot size", raftInstallSnapshot, negSize, "negative snapshot size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeRaftRequest(tc.kind, tc.payload)
			require.ErrorIs(t, err, ErrBadFrame)
			require.Contains(t, err.Error(), tc.what)
		})
	}
	t.Run("response of the wrong type", func(t *testing.T) {
		frame, err := encodeRaftReply(nil, &raft.RequestVoteResponse{Term: 1, Peers: []byte("xyz")}, nil)
		require.NoError(t, err)
		_, p := splitRaftFrame(t, frame)
		require.ErrorIs(t, decodeRaftResponse(p, &raft.TimeoutNowResponse{}), ErrBadFrame)
	})
	t.Run("unknown request type", func(t *testing.T) {
		_, err := encodeRaftRequest(nil, struct{}{})
		require.ErrorIs(t, err, ErrBadFrame)
	})
}

// FuzzRaftDecode feeds arbitrary payloads to the request and response
// decoders: they must return a value or ErrBadFrame, never panic, and a
// request they accept must encode back to a payload that decodes to it.
func FuzzRaftDecode(f *testing.F) {
	for _, tc := range raftRequests() {
		frame, err := encodeRaftRequest(nil, tc.cmd)
		require.NoError(f, err)
		f.Add(frame[0], frame[raftFrameHeaderSize:])
	}
	f.Add(byte(0), []byte{})
	f.Fuzz(func(t *testing.T, kind byte, p []byte) {
		cmd, err := decodeRaftRequest(kind, p)
		if err != nil {
			require.ErrorIs(t, err, ErrBadFrame)
		} else {
			frame, err := encodeRaftRequest(nil, cmd)
			require.NoError(t, err)
			k, p2 := splitRaftFrame(t, frame)
			again, err := decodeRaftRequest(k, p2)
			require.NoError(t, err)
			require.Equal(t, cmd, again)
		}
		for _, into := range []any{&raft.AppendEntriesResponse{}, &raft.RequestVoteResponse{}, &raft.RequestPreVoteResponse{},
			&raft.InstallSnapshotResponse{}, &raft.TimeoutNowResponse{}} {
			if err := decodeRaftResponse(p, into); err != nil {
				require.ErrorIs(t, err, ErrBadFrame)
			}
		}
	})
}
