package transport

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// TestClusterIDMismatchRPC checks that a Call to a member of another
// cluster fails as not delivered (ErrClusterMismatch and ErrUnreachable)
// without running the handler, and that the same cluster still gets
// through.
func TestClusterIDMismatchRPC(t *testing.T) {
	var ran atomic.Int64
	srv := newTransport(t, Config{ClusterID: 1, Handler: func(_ context.Context, req []byte) ([]byte, error) {
		ran.Add(1)
		return req, nil
	}})
	tests := []struct {
		name      string
		clusterID uint64
		wantErr   error
	}{
		{name: "other cluster", clusterID: 2, wantErr: ErrClusterMismatch},
		{name: "zero ID", clusterID: 0, wantErr: ErrClusterMismatch},
		{name: "same cluster", clusterID: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := ran.Load()
			cli := newTransport(t, Config{ClusterID: tc.clusterID})
			resp, err := cli.Call(testCtx(t), srv.Addr(), []byte("hello"))
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, "hello", string(resp))
				require.Equal(t, before+1, ran.Load())
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			require.ErrorIs(t, err, ErrUnreachable, "a rejected call was never delivered")
			require.Equal(t, before, ran.Load(), "the handler must not run")
		})
	}
}

// TestClusterIDMismatchRaft checks that raft traffic from another cluster
// never reaches the member's raft: the append fails, and the first RPC its
// consumer sees is the one from its own cluster sent afterwards.
func TestClusterIDMismatchRaft(t *testing.T) {
	srv := newTransport(t, Config{ClusterID: 7})
	foreign := newTransport(t, Config{ClusterID: 8})
	own := newTransport(t, Config{ClusterID: 7})
	target := raft.ServerAddress(srv.Addr())

	got := make(chan uint64, 1)
	go func() {
		rpc := <-srv.Raft().Consumer()
		ae, ok := rpc.Command.(*raft.AppendEntriesRequest)
		if ok {
			got <- ae.Term
		} else {
			got <- 0
		}
		rpc.Respond(&raft.AppendEntriesResponse{Term: ae.Term, Success: true}, nil)
	}()

	var resp raft.AppendEntriesResponse
	err := foreign.Raft().AppendEntries("srv", target, &raft.AppendEntriesRequest{Term: 99}, &resp)
	require.Error(t, err, "an append from another cluster must fail")

	require.NoError(t, own.Raft().AppendEntries("srv", target, &raft.AppendEntriesRequest{Term: 3}, &resp))
	require.True(t, resp.Success)
	require.Equal(t, uint64(3), <-got, "the foreign append must not reach raft")
}
