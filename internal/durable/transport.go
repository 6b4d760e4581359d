package durable

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/transport"
)

// WAL is what the holds need to know of the member's raft log.
type WAL struct {
	// Pending reports whether some written entry is not durable yet.
	Pending func() bool
	// Durable returns the index up to which the log is durable.
	Durable func() uint64
	// WaitDurable blocks until the log is durable up to idx, ctx ends or
	// the log fails.
	WaitDurable func(ctx context.Context, idx uint64) error
}

// Transport wraps the member's raft transport with holds 1 and 2 (see the
// package documentation). Hold 1 runs as the wrapped transport's
// interceptor, on the connection's goroutine, before raft gets the RPC.
// It is safe for concurrent use, as raft requires.
type Transport struct {
	*transport.RaftTransport
	wal WAL
	ctx context.Context // ends when the member stops
	// held tracks the goroutines holding replies. They start on the
	// transport's connection goroutines, outside the member's own
	// goroutines, so the member waits for them (WaitHeld) once the
	// transport is closed: none can start after that.
	held sync.WaitGroup
}

var (
	_ raft.Transport   = (*Transport)(nil)
	_ raft.WithClose   = (*Transport)(nil)
	_ raft.WithPreVote = (*Transport)(nil)
)

// NewTransport wraps rt and installs hold 1 as its interceptor. Held
// replies are abandoned once ctx ends.
func NewTransport(ctx context.Context, rt *transport.RaftTransport, wal WAL) *Transport {
	t := &Transport{RaftTransport: rt, wal: wal, ctx: ctx}
	rt.SetInterceptor(t.prepare)
	return t
}

// WaitHeld waits for the goroutines holding replies; call it after ctx
// ended and the transport closed, before the WAL they wait on closes.
func (t *Transport) WaitHeld() { t.held.Wait() }

// prepare returns rpc as raft is to get it: an AppendEntries with entries
// that arrives while some written entry is not durable gets its reply held
// (hold 1); anything else passes unchanged.
func (t *Transport) prepare(rpc raft.RPC) raft.RPC {
	if ae, ok := rpc.Command.(*raft.AppendEntriesRequest); ok && len(ae.Entries) > 0 && t.wal.Pending() {
		return t.holdReply(rpc, ae.Entries[len(ae.Entries)-1].Index)
	}
	return rpc
}

// holdReply makes a successful reply to rpc wait until entry last is
// durable (hold 1, needed only while some written entry is not durable).
// Failed replies pass at once: they make the leader back off or step down
// and never count as a copy.
func (t *Transport) holdReply(rpc raft.RPC, last uint64) raft.RPC {
	orig := rpc.RespChan
	held := make(chan raft.RPCResponse, 1)
	rpc.RespChan = held
	t.held.Go(func() {
		var r raft.RPCResponse
		select {
		case r = <-held:
		case <-t.ctx.Done():
			return
		}
		if resp, ok := r.Response.(*raft.AppendEntriesResponse); ok && r.Error == nil && resp.Success {
			if err := t.wal.WaitDurable(t.ctx, last); err != nil {
				// Stopping, or the WAL failed (the member fail-stops):
				// never claim a copy that may not be durable.
				r.Error = err
			}
		}
		orig <- r // buffered by the transport
	})
	return rpc
}

// AppendEntries implements raft.Transport, capping the commit index sent
// to the follower at this member's durable index (hold 2).
func (t *Transport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if d := t.wal.Durable(); args.LeaderCommitIndex > d {
		args.LeaderCommitIndex = d
	}
	return t.RaftTransport.AppendEntries(id, target, args, resp)
}
