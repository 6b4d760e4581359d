package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/allocs"
)

// Stream kinds of FuzzConnStream: what the first input byte says the rest
// is, as the accepting (or, for replies, the dialing) side reads it.
const (
	streamRaftRequests = iota // an accepted raft connection
	streamRaftReplies         // a dialed raft connection's replies
	streamRPCFrames           // an RPC connection, either direction
	streamJoinFrames          // a join connection, either direction
	streamKinds
)

// readStream reads in as a stream of the given kind until the first error,
// as the connection's reader does (an InstallSnapshot's data is skipped,
// as raft reads it into its snapshot store). It returns that error, io.EOF
// for a clean end.
func readStream(kind byte, in []byte) error {
	r := bytes.NewReader(in)
	replies := []any{&raft.AppendEntriesResponse{}, &raft.RequestVoteResponse{}, &raft.RequestPreVoteResponse{},
		&raft.InstallSnapshotResponse{}, &raft.TimeoutNowResponse{}}
	for i := 0; ; i++ {
		var err error
		switch kind % streamKinds {
		case streamRaftRequests:
			var cmd any
			if cmd, err = readRaftRequest(r); err == nil {
				if is, ok := cmd.(*raft.InstallSnapshotRequest); ok {
					_, err = io.CopyN(io.Discard, r, is.Size)
				}
			}
		case streamRaftReplies:
			var status byte
			var p []byte
			if status, p, err = readRaftReply(r); err == nil && status == raftReplyOK {
				err = decodeRaftResponse(p, replies[i%len(replies)])
			}
		case streamRPCFrames:
			_, err = readFrame(r)
		case streamJoinFrames:
			_, err = readFrameLimit(r, MaxJoinMessageSize)
		}
		if err != nil {
			return err
		}
	}
}

// streamAllocBudget is what reading n bytes of any stream may allocate: a
// payload announced up to 64 KiB is allocated whole before it arrives
// (once: a stream that does not deliver it ends there), a larger one grows
// from 64 KiB to at most twice what arrived, and decoding an AppendEntries
// allocates about 17 bytes of entries per payload byte (a 104-byte entry
// per 6 encoded bytes at least).
func streamAllocBudget(n int) uint64 { return 256<<10 + 32*uint64(n) }

// FuzzConnStream feeds arbitrary bytes to the transport's connection
// readers: they must never panic, fail only with the transport's frame
// errors or a truncation, and never allocate more than streamAllocBudget
// of the input's length, whatever lengths and counts the input claims.
func FuzzConnStream(f *testing.F) {
	var raftStream []byte
	for _, tc := range raftRequests() {
		frame, err := encodeRaftRequest(nil, tc.cmd)
		require.NoError(f, err)
		if is, ok := tc.cmd.(*raft.InstallSnapshotRequest); ok {
			is.Size = 3
			frame, err = encodeRaftRequest(nil, is)
			require.NoError(f, err)
			frame = append(frame, "abc"...)
		}
		raftStream = append(raftStream, frame...)
	}
	f.Add(append([]byte{streamRaftRequests}, raftStream...))
	forged := func(kind byte, n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{kind}, n) }
	f.Add(append([]byte{streamRaftRequests}, forged(raftAppendEntries, MaxRaftMessageSize)...))
	// An AppendEntries claiming as many entries as it has bytes left.
	entries := binary.AppendUvarint(make([]byte, 7), 20000)
	entries = append(entries, make([]byte, 20000)...)
	f.Add(append(append([]byte{streamRaftRequests}, forged(raftAppendEntries, uint32(len(entries)))...), entries...))
	f.Add(append([]byte{streamRaftRequests}, forged(raftRequestVote, 0xFFFFFFFF)...))
	reply, err := encodeRaftReply(nil, &raft.AppendEntriesResponse{RPCHeader: hdr, Term: 2, LastLog: 9, Success: true}, nil)
	require.NoError(f, err)
	f.Add(append([]byte{streamRaftReplies}, reply...))
	f.Add(append([]byte{streamRaftReplies}, forged(raftReplyError, maxRaftReplySize+1)...))
	f.Add(append([]byte{streamRPCFrames}, encodeFrame(f, frame{kind: frameRequest, id: 1, payload: []byte("hi")})...))
	f.Add(append([]byte{streamRPCFrames}, rawHeader(frameRequest, 1, 0, MaxMessageSize)...))
	f.Add(append([]byte{streamJoinFrames}, rawHeader(frameRequest, 1, 0, MaxJoinMessageSize+1)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		var err error
		alloc := allocs.Least(3, func() { err = readStream(in[0], in[1:]) })
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
			!errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("unexpected error class: %v", err)
		}
		if budget := streamAllocBudget(len(in)); alloc > budget {
			t.Fatalf("reading %d bytes allocated %d, budget %d", len(in), alloc, budget)
		}
	})
}
