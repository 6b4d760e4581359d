package durable

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// TestDurableTransportHoldsRepliesOnlyWhilePending checks hold 1's
// decision: an AppendEntries with entries that arrives while a written
// entry is not durable gets its success reply held until its last entry is
// durable; otherwise (everything durable, no entries, a failed reply) the
// reply passes at once.
func TestDurableTransportHoldsRepliesOnlyWhilePending(t *testing.T) {
	withEntries := &raft.AppendEntriesRequest{Entries: []*raft.Log{{Index: 7}, {Index: 8}}}
	tests := []struct {
		name    string
		cmd     any
		pending bool
		success bool
		held    bool
	}{
		{name: "entries while pending", cmd: withEntries, pending: true, success: true, held: true},
		{name: "entries, all durable", cmd: withEntries, pending: false, success: true},
		{name: "heartbeat while pending", cmd: &raft.AppendEntriesRequest{}, pending: true, success: true},
		{name: "failed reply while pending", cmd: withEntries, pending: true, success: false},
		{name: "vote while pending", cmd: &raft.RequestVoteRequest{}, pending: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var dt *Transport
			defer func() { dt.WaitHeld() }()
			defer cancel()
			var durable atomic.Uint64
			durable.Store(6)
			durableCh := make(chan struct{})
			waiting := make(chan struct{}, 1)
			wait := func(ctx context.Context, idx uint64) error {
				waiting <- struct{}{}
				select {
				case <-durableCh:
					durable.Store(idx)
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			dt = &Transport{wal: WAL{Pending: func() bool { return tc.pending }, Durable: durable.Load, WaitDurable: wait}, ctx: ctx}

			orig := make(chan raft.RPCResponse, 1)
			got := dt.prepare(raft.RPC{Command: tc.cmd, RespChan: orig})
			got.Respond(&raft.AppendEntriesResponse{Success: tc.success}, nil)
			if !tc.held {
				select {
				case r := <-orig:
					require.Equal(t, tc.success, r.Response.(*raft.AppendEntriesResponse).Success)
				case <-time.After(10 * time.Second):
					t.Fatal("the reply was held")
				}
				require.Empty(t, waiting, "nothing waited for durability")
				return
			}
			<-waiting // the hold waits for durability: the reply cannot have passed
			require.Empty(t, orig, "a success reply passed before its entries were durable")
			close(durableCh)
			r := <-orig
			require.NoError(t, r.Error)
			require.True(t, r.Response.(*raft.AppendEntriesResponse).Success)
			require.Equal(t, uint64(8), durable.Load(), "the hold waited for the last entry")
		})
	}
}
