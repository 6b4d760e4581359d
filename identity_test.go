package keel

import (
	"testing"

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
