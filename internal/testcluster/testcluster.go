// Package testcluster starts Keel members for the tests of packages built
// on Keel's public API (lock, discovery): a single member, or a static
// cluster on loopback TCP in one process. It is test infrastructure: every
// member lives in the test's temp dirs and is closed at cleanup.
package testcluster

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
)

// WaitLimit bounds every wait for something a cluster does eventually.
const WaitLimit = 30 * time.Second

// Single opens a single-member store in a temp dir, closed at cleanup.
func Single(tb testing.TB) *keel.Store {
	tb.Helper()
	s, err := keel.Open(keel.Config{Dir: tb.TempDir()})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

// Open starts an n-member cluster on loopback and waits until it serves
// writes. Members still open at cleanup are closed then; a test may close
// one earlier and set its entry to nil.
func Open(tb testing.TB, n int) []*keel.Store {
	tb.Helper()
	peers := make([]keel.Peer, n)
	lns := make([]net.Listener, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(tb, err)
		lns[i] = ln
		peers[i] = keel.Peer{ID: fmt.Sprintf("m%d", i+1), Addr: ln.Addr().String()}
	}
	stores := make([]*keel.Store, n)
	for i := range n {
		s, err := keel.Open(keel.Config{
			ID: peers[i].ID, Dir: tb.TempDir(), Addr: peers[i].Addr, Peers: peers,
			Listener: lns[i], HeartbeatTimeout: 500 * time.Millisecond,
		})
		require.NoError(tb, err)
		stores[i] = s
	}
	tb.Cleanup(func() {
		for _, s := range stores {
			if s != nil {
				require.NoError(tb, s.Close())
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	_, err := stores[0].Put(ctx, "cluster/ready", "yes")
	require.NoError(tb, err)
	return stores
}
