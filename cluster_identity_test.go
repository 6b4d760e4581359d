package keel

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClusterIDDerivation checks which bootstrap inputs give a new cluster
// its own ID: the peers' IDs and addresses and the token, not their order.
func TestClusterIDDerivation(t *testing.T) {
	peers := []Peer{{ID: "a", Addr: "10.0.0.1:7000"}, {ID: "b", Addr: "10.0.0.2:7000"}, {ID: "c", Addr: "10.0.0.3:7000"}}
	base := clusterID("a", peers, "")
	tests := []struct {
		name  string
		self  string
		peers []Peer
		token string
		same  bool
	}{
		{name: "another member of the same cluster", self: "b", peers: peers, same: true},
		{name: "peers in another order", self: "a", peers: []Peer{peers[2], peers[0], peers[1]}, same: true},
		{name: "one address differs", self: "a", peers: []Peer{peers[0], peers[1], {ID: "c", Addr: "10.0.0.4:7000"}}},
		{name: "one ID differs", self: "a", peers: []Peer{peers[0], peers[1], {ID: "d", Addr: "10.0.0.3:7000"}}},
		{name: "a token", self: "a", peers: peers, token: "staging"},
		{name: "single member", self: "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := clusterID(tc.self, tc.peers, tc.token)
			if tc.same {
				require.Equal(t, base, got)
			} else {
				require.NotEqual(t, base, got)
			}
		})
	}
	require.NotEqual(t, clusterID("a", nil, ""), clusterID("b", nil, ""), "single members have their own clusters")
}

// TestOtherClusterAtPeerAddress starts a member of another cluster on the
// address of a stopped member of a running cluster, as when a port or an
// IP is reused. The running cluster's leader keeps dialing that address;
// the other member must refuse its connections (raft messages from another
// cluster would make it step down and overwrite its log), and both
// clusters keep their own data.
func TestOtherClusterAtPeerAddress(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := c.leader()
	_, err := c.stores[l].Put(ctx, "a", "1")
	require.NoError(t, err)
	f := (l + 1) % 3
	c.stop(f)

	// A single-member cluster with the stopped member's ID and address.
	var ln net.Listener
	require.Eventually(t, func() bool {
		ln, err = net.Listen("tcp", c.cfgs[f].Addr)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	refused := &countingHandler{match: "closing connection from another cluster"}
	other, err := Open(Config{ID: c.cfgs[f].ID, Dir: t.TempDir(), Listener: ln, Logger: slog.New(refused)})
	require.NoError(t, err)
	defer func() { require.NoError(t, other.Close()) }()
	require.NotEqual(t, c.stores[l].id.ClusterID, other.id.ClusterID)
	_, err = other.Put(ctx, "b", "2")
	require.NoError(t, err)
	term := other.raft.CurrentTerm()

	// The cluster writes on; its leader tries to reach the address.
	for i := range 20 {
		_, err := c.stores[l].Put(ctx, "a", string(rune('a'+i)))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return refused.n.Load() >= 3 }, 10*time.Second, 10*time.Millisecond,
		"the other cluster's member never saw (and refused) the leader's connections")

	require.True(t, other.IsLeader(), "the other cluster's member was deposed")
	require.Equal(t, term, other.raft.CurrentTerm())
	gr, err := other.Get(ctx, "a")
	require.NoError(t, err)
	require.Empty(t, gr.Kvs, "the other cluster's data leaked in")
	gr, err = other.Get(ctx, "b")
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 1)
	gr, err = c.stores[l].Get(ctx, "b")
	require.NoError(t, err)
	require.Empty(t, gr.Kvs)
}

// countingHandler is a slog.Handler counting the records whose message is
// match.
type countingHandler struct {
	match string
	n     atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.match {
		h.n.Add(1)
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
