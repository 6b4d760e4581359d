package transport

import (
	"bytes"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
)

// benchAppend is an AppendEntries as raft sends it under load: n entries
// of a 300-byte command each.
func benchAppend(n int) *raft.AppendEntriesRequest {
	req := &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 3, PrevLogEntry: 1000, PrevLogTerm: 3, LeaderCommitIndex: 999}
	for i := range n {
		req.Entries = append(req.Entries, &raft.Log{Index: uint64(1001 + i), Term: 3, Type: raft.LogCommand,
			Data: bytes.Repeat([]byte{byte(i)}, 300), AppendedAt: time.Unix(1700000000, int64(i))})
	}
	return req
}

// BenchmarkRaftCodec encodes and decodes an AppendEntries of 36 entries
// with Keel's codec and with the msgpack encoding raft's NetworkTransport
// uses, for comparison in one run.
func BenchmarkRaftCodec(b *testing.B) {
	req := benchAppend(36)
	b.Run("keel", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			frame, err := encodeRaftRequest(buf, req)
			if err != nil {
				b.Fatal(err)
			}
			buf = frame[:0]
			payload := append([]byte(nil), frame[raftFrameHeaderSize:]...) // the reader's fresh buffer
			if _, err := decodeRaftRequest(frame[0], payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("msgpack", func(b *testing.B) {
		var buf bytes.Buffer
		h := &codec.MsgpackHandle{}
		for b.Loop() {
			buf.Reset()
			if err := codec.NewEncoder(&buf, h).Encode(req); err != nil {
				b.Fatal(err)
			}
			var out raft.AppendEntriesRequest
			if err := codec.NewDecoder(&buf, h).Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRaftAppendEntries measures an AppendEntries round trip over
// loopback, the peer's consumer answering at once: Keel's RaftTransport
// and raft's own NetworkTransport (NewTCPTransport) in the same run.
func BenchmarkRaftAppendEntries(b *testing.B) {
	serve := func(done chan struct{}, ch <-chan raft.RPC) {
		for {
			select {
			case rpc := <-ch:
				rpc.Respond(&raft.AppendEntriesResponse{Term: 3, Success: true}, nil)
			case <-done:
				return
			}
		}
	}
	for _, n := range []int{1, 36} {
		req := benchAppend(n)
		b.Run("keel/entries="+strconv.Itoa(n), func(b *testing.B) {
			from, to := newTransport(b, Config{}), newTransport(b, Config{})
			done := make(chan struct{})
			go serve(done, to.Raft().Consumer())
			defer close(done)
			var resp raft.AppendEntriesResponse
			for b.Loop() {
				if err := from.Raft().AppendEntries("to", raft.ServerAddress(to.Addr()), req, &resp); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("net/entries="+strconv.Itoa(n), func(b *testing.B) {
			from, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				from.CloseStreams() // pooled connections, so the peer's handlers end
				_ = from.Close()
			}()
			to, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			defer to.Close()
			done := make(chan struct{})
			go serve(done, to.Consumer())
			defer close(done)
			var resp raft.AppendEntriesResponse
			for b.Loop() {
				if err := from.AppendEntries("to", to.LocalAddr(), req, &resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
