package keel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/allocs"
)

// TestMemberPortForgedLengths dials a running Store's member port, opens
// each kind of connection with the right cluster ID and sends a frame
// header claiming about 1 GiB (or more). The Store must drop the
// connection and its memory must not grow by anything near the claim.
func TestMemberPortForgedLengths(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	_, err := s.Put(ctx, "k", "v")
	require.NoError(t, err)

	const gib = 1 << 30
	opening := func(kind byte) []byte { return binary.BigEndian.AppendUint64([]byte{kind}, s.trans.ClusterID()) }
	// rpcFrame is an RPC or join frame header: kind, id, timeout, length.
	rpcFrame := func(n uint32) []byte {
		h := []byte{1} // a request
		h = binary.BigEndian.AppendUint64(h, 1)
		h = binary.BigEndian.AppendUint64(h, 0)
		return binary.BigEndian.AppendUint32(h, n)
	}
	raftFrame := func(kind byte, n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{kind}, n) }
	tests := []struct {
		name string
		ack  bool   // the connection kind is acknowledged with its header byte
		send []byte // after the opening (and acknowledgement)
		body int    // bytes of payload sent before half-closing
	}{
		{"rpc frame of 1 GiB", true, append(opening('K'), rpcFrame(gib)...), 0},
		{"rpc frame of 4 GiB", true, append(opening('K'), rpcFrame(0xFFFFFFFF)...), 0},
		{"join frame of 1 GiB", true, append(opening('J'), rpcFrame(gib)...), 0},
		{"raft append of 4 GiB", false, append(opening('R'), raftFrame(1, 0xFFFFFFFF)...), 0},
		{"raft vote of 1 GiB", false, append(opening('R'), raftFrame(2, gib)...), 0},
		{"raft append of 1 GiB, 1 MiB sent", false, append(opening('R'), raftFrame(1, gib)...), 1 << 20},
		{"raft snapshot header of 1 GiB", false, append(opening('R'), raftFrame(4, gib)...), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			grew := allocs.Bytes(func() { forge(t, s.Addr(), tc.send, tc.ack, tc.body) })
			t.Logf("allocated %d bytes meanwhile", grew)
			require.Less(t, grew, uint64(64<<20), "a forged length cost %d bytes", grew)
		})
	}
	_, err = s.Put(ctx, "k", "still serving")
	require.NoError(t, err)
}

// forge dials addr, sends the 9-byte opening of send, waits for the
// acknowledgement if ack, sends the rest of send and body zero bytes
// (then half-closes), and requires the peer to close the connection.
func forge(t *testing.T, addr string, send []byte, ack bool, body int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	hdrLen := 9
	_, err = c.Write(send[:hdrLen])
	require.NoError(t, err)
	if ack {
		var got [1]byte
		_, err = io.ReadFull(c, got[:])
		require.NoError(t, err)
		require.Equal(t, send[0], got[0], "connection accepted")
	}
	_, err = c.Write(send[hdrLen:])
	require.NoError(t, err)
	if body > 0 {
		_, err = c.Write(make([]byte, body))
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).CloseWrite()) // the rest never comes
	}
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the member did not drop the connection")
}

// TestForwardedProposalChecks: the leader checks a proposal forwarded by
// a peer as the proposing member would have: its size against
// MaxRequestBytes before decoding it, and its kind (only what followers
// forward).
func TestForwardedProposalChecks(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	_, err := s.Put(ctx, "k", "v")
	require.NoError(t, err)
	big := encodeOpCommand(&Op{t: tPut, key: []byte("k"), val: bytes.Repeat([]byte{'v'}, s.cfg.MaxRequestBytes)})
	tests := []struct {
		name string
		cmd  []byte
		want error
	}{
		{"over MaxRequestBytes", big, ErrRequestTooLarge},
		{"noop", encodeNoop(), ErrCorruptCommand},
		{"lease checkpoint", encodeLeaseCheckpointCommand([]leaseCheckpoint{{id: 1, remaining: 1}}), ErrCorruptCommand},
		{"membership record", encodeMemberCommand(1, &clusterState{index: 1, initial: 1}), ErrCorruptCommand},
		{"alarm (a member clears its own)", encodeAlarmCommand(false, AlarmMember{MemberID: s.MemberID(), Alarm: AlarmNoSpace}), nil},
		{"put", encodeOpCommand(&Op{t: tPut, key: []byte("k"), val: []byte("forwarded")}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reply, err := s.handleRPC(ctx, append([]byte{msgPropose}, tc.cmd...))
			require.NoError(t, err)
			res, err := decodeResult(reply)
			require.NoError(t, err)
			if tc.want == nil {
				require.NoError(t, res.err)
				return
			}
			require.ErrorIs(t, res.err, tc.want)
		})
	}
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "forwarded", string(got.Kvs[0].Value), "only the put was applied")
}
