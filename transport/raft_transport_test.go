package transport

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// raftPair is a dialing Transport and an accepting one whose raft RPCs are
// answered by serve until the test ends.
func raftPair(tb testing.TB, serve func(rpc raft.RPC)) (from, to *Transport) {
	tb.Helper()
	from, err := Listen(Config{RaftTimeout: 5 * time.Second, RaftRedialWait: 200 * time.Millisecond})
	require.NoError(tb, err)
	to, err = Listen(Config{RaftTimeout: 5 * time.Second})
	require.NoError(tb, err)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case rpc := <-to.Raft().Consumer():
				serve(rpc)
			case <-done:
				return
			}
		}
	}()
	tb.Cleanup(func() {
		require.NoError(tb, from.Close())
		close(done)
		<-stopped
		require.NoError(tb, to.Close())
	})
	return from, to
}

// echoRaft answers every request with a response derived from it, and
// AppendEntries with Term 13 with an error.
func echoRaft(rpc raft.RPC) {
	switch r := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		if r.Term == 13 {
			rpc.Respond(&raft.AppendEntriesResponse{}, errors.New("unlucky term"))
			return
		}
		var last uint64
		if len(r.Entries) > 0 {
			last = r.Entries[len(r.Entries)-1].Index
		}
		rpc.Respond(&raft.AppendEntriesResponse{Term: r.Term, LastLog: last, Success: true}, nil)
	case *raft.RequestVoteRequest:
		rpc.Respond(&raft.RequestVoteResponse{Term: r.Term, Granted: r.LeadershipTransfer}, nil)
	case *raft.RequestPreVoteRequest:
		rpc.Respond(&raft.RequestPreVoteResponse{Term: r.Term, Granted: true}, nil)
	case *raft.TimeoutNowRequest:
		rpc.Respond(&raft.TimeoutNowResponse{RPCHeader: r.RPCHeader}, nil)
	case *raft.InstallSnapshotRequest:
		data, err := io.ReadAll(rpc.Reader)
		if err != nil {
			rpc.Respond(nil, err)
			return
		}
		ok := int64(len(data)) == r.Size && bytes.Equal(data, snapshotData(int(r.Size)))
		rpc.Respond(&raft.InstallSnapshotResponse{Term: r.Term, Success: ok}, nil)
	default:
		rpc.Respond(nil, errors.New("unexpected command"))
	}
}

// snapshotData is n bytes of a recognizable pattern.
func snapshotData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestRaftTransportCalls(t *testing.T) {
	from, to := raftPair(t, echoRaft)
	rt, target := from.Raft(), raft.ServerAddress(to.Addr())
	tests := []struct {
		name string
		call func() (got, want any, err error)
	}{
		{"append entries", func() (any, any, error) {
			var resp raft.AppendEntriesResponse
			err := rt.AppendEntries("to", target, &raft.AppendEntriesRequest{Term: 4, Entries: []*raft.Log{{Index: 9, Data: []byte("x")}, {Index: 10}}}, &resp)
			return &resp, &raft.AppendEntriesResponse{Term: 4, LastLog: 10, Success: true}, err
		}},
		{"request vote", func() (any, any, error) {
			var resp raft.RequestVoteResponse
			err := rt.RequestVote("to", target, &raft.RequestVoteRequest{Term: 5, LeadershipTransfer: true}, &resp)
			return &resp, &raft.RequestVoteResponse{Term: 5, Granted: true}, err
		}},
		{"pre-vote", func() (any, any, error) {
			var resp raft.RequestPreVoteResponse
			err := rt.RequestPreVote("to", target, &raft.RequestPreVoteRequest{Term: 6}, &resp)
			return &resp, &raft.RequestPreVoteResponse{Term: 6, Granted: true}, err
		}},
		{"timeout now", func() (any, any, error) {
			var resp raft.TimeoutNowResponse
			err := rt.TimeoutNow("to", target, &raft.TimeoutNowRequest{RPCHeader: hdr}, &resp)
			return &resp, &raft.TimeoutNowResponse{RPCHeader: hdr}, err
		}},
		{"install snapshot", func() (any, any, error) {
			var resp raft.InstallSnapshotResponse
			const size = 3<<20 + 17
			err := rt.InstallSnapshot("to", target, &raft.InstallSnapshotRequest{Term: 7, Size: size}, &resp, bytes.NewReader(snapshotData(size)))
			return &resp, &raft.InstallSnapshotResponse{Term: 7, Success: true}, err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want, err := tc.call()
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

func TestRaftTransportErrors(t *testing.T) {
	from, to := raftPair(t, echoRaft)
	rt, target := from.Raft(), raft.ServerAddress(to.Addr())

	t.Run("raft's error reaches the caller; the connection stays usable", func(t *testing.T) {
		var resp raft.AppendEntriesResponse
		err := rt.AppendEntries("to", target, &raft.AppendEntriesRequest{Term: 13, Entries: []*raft.Log{{Index: 1}}}, &resp)
		require.ErrorIs(t, err, ErrRemote)
		require.ErrorContains(t, err, "unlucky term")
		require.Len(t, rt.pool[target], 1, "the connection went back to the pool")
		err = rt.AppendEntries("to", target, &raft.AppendEntriesRequest{Term: 2, Entries: []*raft.Log{{Index: 1}}}, &resp)
		require.NoError(t, err)
		require.True(t, resp.Success)
	})
	t.Run("short snapshot data", func(t *testing.T) {
		var resp raft.InstallSnapshotResponse
		err := rt.InstallSnapshot("to", target, &raft.InstallSnapshotRequest{Term: 1, Size: 100}, &resp, bytes.NewReader(make([]byte, 60)))
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("negative snapshot size", func(t *testing.T) {
		var resp raft.InstallSnapshotResponse
		err := rt.InstallSnapshot("to", target, &raft.InstallSnapshotRequest{Term: 1, Size: -1}, &resp, bytes.NewReader(nil))
		require.ErrorIs(t, err, ErrBadFrame)
	})
	t.Run("unreachable peer", func(t *testing.T) {
		dead, err := Listen(Config{})
		require.NoError(t, err)
		addr := raft.ServerAddress(dead.Addr())
		require.NoError(t, dead.Close())
		var resp raft.AppendEntriesResponse
		err = rt.AppendEntries("dead", addr, &raft.AppendEntriesRequest{Term: 1}, &resp)
		require.ErrorIs(t, err, ErrUnreachable)
	})
	t.Run("peer closed mid-stream", func(t *testing.T) {
		var resp raft.AppendEntriesResponse
		require.NoError(t, rt.AppendEntries("to", target, &raft.AppendEntriesRequest{Term: 2, Entries: []*raft.Log{{Index: 1}}}, &resp))
		require.NoError(t, to.Raft().Close()) // pooled connections now end at the peer
		err := rt.AppendEntries("to", target, &raft.AppendEntriesRequest{Term: 2, Entries: []*raft.Log{{Index: 1}}}, &resp)
		require.Error(t, err)
	})
	t.Run("after Close", func(t *testing.T) {
		require.NoError(t, from.Close())
		var resp raft.AppendEntriesResponse
		err := rt.AppendEntries("to", target, &raft.AppendEntriesRequest{Term: 2}, &resp)
		require.ErrorIs(t, err, ErrClosed)
	})
}

// TestRaftTransportHeartbeatAndInterceptor checks the routing of requests:
// heartbeats go to the heartbeat handler without passing the interceptor,
// everything else passes the interceptor and then reaches the consumer
// with whatever the interceptor made of it.
func TestRaftTransportHeartbeatAndInterceptor(t *testing.T) {
	consumed := make(chan any, 10)
	from, to := raftPair(t, func(rpc raft.RPC) {
		consumed <- rpc.Command
		echoRaft(rpc)
	})
	intercepted := make(chan any, 10)
	to.Raft().SetInterceptor(func(rpc raft.RPC) raft.RPC {
		intercepted <- rpc.Command
		if ae, ok := rpc.Command.(*raft.AppendEntriesRequest); ok {
			// Replace the reply channel, as Keel's durability hold does.
			orig := rpc.RespChan
			held := make(chan raft.RPCResponse, 1)
			rpc.RespChan = held
			go func() {
				r := <-held
				r.Response.(*raft.AppendEntriesResponse).LastLog = ae.Entries[0].Index + 100
				orig <- r
			}()
		}
		return rpc
	})
	heartbeats := make(chan any, 10)
	to.Raft().SetHeartbeatHandler(func(rpc raft.RPC) {
		heartbeats <- rpc.Command
		rpc.Respond(&raft.AppendEntriesResponse{Term: 77, Success: true}, nil)
	})
	rt, target := from.Raft(), raft.ServerAddress(to.Addr())

	var resp raft.AppendEntriesResponse
	require.NoError(t, rt.AppendEntries("to", target, &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 3}, &resp))
	require.Equal(t, uint64(77), resp.Term, "the heartbeat handler answered")
	require.Len(t, heartbeats, 1)
	require.Empty(t, intercepted)
	require.Empty(t, consumed)

	require.NoError(t, rt.AppendEntries("to", target, &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 3, Entries: []*raft.Log{{Index: 5}}}, &resp))
	require.Equal(t, uint64(105), resp.LastLog, "the interceptor's reply channel was used")
	require.Len(t, intercepted, 1)
	require.Len(t, consumed, 1)
	require.Len(t, heartbeats, 1)

	to.Raft().SetHeartbeatHandler(nil)
	to.Raft().SetInterceptor(nil)
	require.NoError(t, rt.AppendEntries("to", target, &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 3}, &resp))
	require.Len(t, consumed, 2, "without a handler a heartbeat goes to the consumer")
	require.Len(t, intercepted, 1)
}

// TestRaftRedial checks Config.RaftRedialWait: a request to a peer that
// cannot be dialed keeps redialing, reaches the peer once it listens, and
// gives up when the wait ends or is stopped.
func TestRaftRedial(t *testing.T) {
	t.Run("reaches a peer that starts listening", func(t *testing.T) {
		from := newTransport(t, Config{RaftRedialWait: time.Minute})
		addr := freeAddr(t)
		got := make(chan error, 1)
		go func() {
			var resp raft.AppendEntriesResponse
			got <- from.Raft().AppendEntries("peer", raft.ServerAddress(addr), &raft.AppendEntriesRequest{Term: 4}, &resp)
		}()
		time.Sleep(100 * time.Millisecond) // let it fail a dial or two
		to := newTransport(t, Config{Addr: addr})
		rpc := <-to.Raft().Consumer()
		require.Equal(t, uint64(4), rpc.Command.(*raft.AppendEntriesRequest).Term)
		rpc.Respond(&raft.AppendEntriesResponse{Term: 4, Success: true}, nil)
		require.NoError(t, <-got)
	})
	for _, tc := range []struct {
		name string
		stop func(rt *RaftTransport)
	}{
		{name: "StopRedialing ends the wait", stop: (*RaftTransport).StopRedialing},
		{name: "Close ends the wait", stop: func(rt *RaftTransport) { _ = rt.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := newTransport(t, Config{RaftRedialWait: time.Hour})
			addr := raft.ServerAddress(freeAddr(t))
			got := make(chan error, 1)
			go func() {
				var resp raft.AppendEntriesResponse
				got <- from.Raft().AppendEntries("peer", addr, &raft.AppendEntriesRequest{Term: 1}, &resp)
			}()
			time.Sleep(50 * time.Millisecond)
			tc.stop(from.Raft())
			select {
			case err := <-got:
				require.ErrorIs(t, err, ErrUnreachable)
			case <-time.After(waitFor):
				t.Fatal("the redialing request did not end")
			}
			// Later requests fail without waiting.
			var resp raft.AppendEntriesResponse
			require.Error(t, from.Raft().AppendEntries("peer", addr, &raft.AppendEntriesRequest{Term: 1}, &resp))
		})
	}
	t.Run("negative wait fails at once", func(t *testing.T) {
		from := newTransport(t, Config{RaftRedialWait: -1})
		var resp raft.AppendEntriesResponse
		err := from.Raft().AppendEntries("peer", raft.ServerAddress(freeAddr(t)), &raft.AppendEntriesRequest{Term: 1}, &resp)
		require.ErrorIs(t, err, ErrUnreachable)
	})
}
