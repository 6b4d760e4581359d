package keel

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/transport"
)

// Keel's WAL runs with wal.Config.DeferSync while the member leads:
// StoreLogs returns once a batch is written, and a background goroutine
// fsyncs (group commit). On a leader this lets replication to the
// followers start while the leader's own fsync runs, as etcd does, instead
// of after it: a write then costs one fsync of latency, not two. On a
// member that does not lead, StoreLogs waits for the background sync
// (wal.Config.DeferWhen): a follower's acknowledgement has to wait for its
// fsync anyway, and raft then replies itself, with no goroutine holding
// the reply. hashicorp/raft assumes a stored entry is
// durable, so three places hold back anything that would depend on
// durability until the member's WAL reports it (wal.WAL.Durable):
//
//  1. A follower's successful reply to an AppendEntries that carried entries
//     is sent only once those entries are durable. Entries a follower
//     stores are durable before StoreLogs returns; entries its log already
//     held (raft skips storing them) may have been stored while it led,
//     with the sync deferred. So when an AppendEntries with entries
//     arrives while some written entry is not yet durable, its reply is
//     held until the AppendEntries' last entry is (durableTransport's
//     consumer); otherwise every entry the log holds is durable and every
//     entry raft adds is durable before raft replies. The leader counts a
//     follower's copy when it gets that reply, so a follower's vote
//     towards a commit is always a durable copy.
//  2. The commit index a leader sends to followers is capped at the leader's
//     own durable index (durableTransport.AppendEntries). raft counts the
//     leader's copy as soon as StoreLogs returns; with the cap, a follower
//     learns that an entry is committed only once the leader's copy is
//     durable too, so it applies only entries durable on a majority
//     (the leader's copy plus enough followers' replies).
//  3. The FSM applies an entry only once the member's own copy is durable
//     (fsm.waitDurable). Every client-visible effect of an entry comes from
//     applying it: the reply to its proposer, reads, watch events and the
//     database commit that records the consistent index. So an entry is
//     visible on the leader only when durable on the leader and on enough
//     followers to make a majority.
//
// The check of hold 1 runs before raft processes the AppendEntries. An
// entry the member writes after the check is either stored by raft for
// this AppendEntries, after raft made the member a follower (durable before
// StoreLogs returns), or written while it still leads; the latter cannot
// be one of the AppendEntries' entries, which its sender chose before the
// entry existed, and if its index collides with one, the terms differ and
// raft replaces it (DeleteRange and StoreLogs, both synced) or rejects the
// AppendEntries.
//
// An entry the leader stored but had not made durable when it crashed was
// therefore never acknowledged, never visible and never applied anywhere, so
// losing it is the same as losing an entry a leader never replicated: the
// new leader's log wins. Votes compare in-memory logs that may include
// entries not yet durable; if a crash then shortens a voter's log, the vote
// it gave was only stricter than needed, which raft's election restriction
// allows.

// durableTransport wraps the member's raft transport with the holds 1 and
// 2 above. It is what Keel hands to raft.NewRaft. Hold 1 runs as the
// transport's interceptor, on the connection's goroutine, before raft
// gets the RPC.
type durableTransport struct {
	*transport.RaftTransport
	pending     func() bool                                 // some written entry is not durable yet
	durable     func() uint64                               // the WAL's durable index
	waitDurable func(ctx context.Context, idx uint64) error // blocks until durable >= idx
	ctx         context.Context                             // ends when the member stops
	// held tracks the goroutines holding replies. They start on the
	// transport's connection goroutines, outside the Store's WaitGroup, so
	// the Store waits for them (waitHeld) once the transport is closed:
	// none can start after that.
	held sync.WaitGroup
}

var (
	_ raft.Transport   = (*durableTransport)(nil)
	_ raft.WithClose   = (*durableTransport)(nil)
	_ raft.WithPreVote = (*durableTransport)(nil)
)

// newDurableTransport wraps rt and installs hold 1 as its interceptor.
func newDurableTransport(ctx context.Context, rt *transport.RaftTransport, pending func() bool, durable func() uint64, wait func(context.Context, uint64) error) *durableTransport {
	t := &durableTransport{RaftTransport: rt, pending: pending, durable: durable, waitDurable: wait, ctx: ctx}
	rt.SetInterceptor(t.prepare)
	return t
}

// waitHeld waits for the goroutines holding replies; call it after ctx
// ended and the transport closed.
func (t *durableTransport) waitHeld() { t.held.Wait() }

// prepare returns rpc as raft is to get it: an AppendEntries with entries
// that arrives while some written entry is not durable gets its reply held
// (hold 1); anything else passes unchanged.
func (t *durableTransport) prepare(rpc raft.RPC) raft.RPC {
	if ae, ok := rpc.Command.(*raft.AppendEntriesRequest); ok && len(ae.Entries) > 0 && t.pending() {
		return t.holdReply(rpc, ae.Entries[len(ae.Entries)-1].Index)
	}
	return rpc
}

// holdReply makes a successful reply to rpc wait until entry last is
// durable (hold 1, needed only while some written entry is not durable).
// Failed replies pass at once: they make the leader back off or step down
// and never count as a copy.
func (t *durableTransport) holdReply(rpc raft.RPC, last uint64) raft.RPC {
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
			if err := t.waitDurable(t.ctx, last); err != nil {
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
func (t *durableTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if d := t.durable(); args.LeaderCommitIndex > d {
		args.LeaderCommitIndex = d
	}
	return t.RaftTransport.AppendEntries(id, target, args, resp)
}

// leading reports whether raft runs and this member leads: the WAL defers
// its syncs only then (see the top of this file).
func (s *Store) leading() bool {
	r := s.raftRef.Load()
	return r != nil && r.State() == raft.Leader
}

// walPending reports whether some entry the WAL holds is not durable yet.
func (s *Store) walPending() bool {
	last, err := s.wal.LastIndex()
	return err != nil || s.wal.Durable() < last
}
