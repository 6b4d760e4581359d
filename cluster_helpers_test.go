package keel

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// testCluster runs n members in this process on loopback TCP, each with
// its own data dir and a fixed address, so members can be stopped and
// restarted on their data.
type testCluster struct {
	tb     testing.TB
	net    *testNet
	cfgs   []Config
	stores []*Store
}

// newCluster starts an n-member cluster. tweak, if non-nil, adjusts every
// member's Config before the first start.
func newCluster(tb testing.TB, n int, tweak func(*Config)) *testCluster {
	tb.Helper()
	c := &testCluster{tb: tb, net: newTestNet(), cfgs: make([]Config, n), stores: make([]*Store, n)}
	peers := make([]Peer, n)
	lns := make([]net.Listener, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(tb, err)
		lns[i] = ln
		peers[i] = Peer{ID: fmt.Sprintf("m%d", i+1), Addr: ln.Addr().String()}
	}
	for i := range n {
		c.cfgs[i] = Config{
			ID: peers[i].ID, Dir: tb.TempDir(), Addr: peers[i].Addr, Peers: peers,
			HeartbeatTimeout: 500 * time.Millisecond, Logger: testLogger(),
			Dial: c.net.dialer(peers[i].Addr),
		}
		if tweak != nil {
			tweak(&c.cfgs[i])
		}
	}
	for i := range n {
		c.startWith(i, lns[i])
	}
	tb.Cleanup(c.closeAll)
	return c
}

func (c *testCluster) startWith(i int, ln net.Listener) {
	c.tb.Helper()
	cfg := c.cfgs[i]
	cfg.Listener = ln
	s, err := Open(cfg)
	require.NoError(c.tb, err)
	c.stores[i] = s
}

// start restarts member i on its data dir and address.
func (c *testCluster) start(i int) {
	c.tb.Helper()
	require.Nil(c.tb, c.stores[i], "member %d is running", i)
	var ln net.Listener
	require.Eventually(c.tb, func() bool {
		var err error
		ln, err = net.Listen("tcp", c.cfgs[i].Addr)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "rebind %s", c.cfgs[i].Addr)
	c.startWith(i, ln)
}

// stop closes member i.
func (c *testCluster) stop(i int) {
	c.tb.Helper()
	require.NoError(c.tb, c.stores[i].Close())
	c.stores[i] = nil
}

// isolate cuts member i off from every other member.
func (c *testCluster) isolate(i int) {
	for j := range c.cfgs {
		if j != i {
			c.net.cut(c.cfgs[i].Addr, c.cfgs[j].Addr)
		}
	}
}

// crash stops member i without handing over leadership, as a killed
// process would (the database still flushes on the way down).
func (c *testCluster) crash(i int) {
	c.tb.Helper()
	require.NoError(c.tb, c.stores[i].close(false))
	c.stores[i] = nil
}

func (c *testCluster) closeAll() {
	for i, s := range c.stores {
		if s != nil {
			require.NoError(c.tb, s.Close())
			c.stores[i] = nil
		}
	}
}

// leader waits for a ready leader among the running members and returns
// its position.
func (c *testCluster) leader() int {
	c.tb.Helper()
	idx := -1
	require.Eventually(c.tb, func() bool {
		for i, s := range c.stores {
			if s == nil || s.raft.State() != raft.Leader {
				continue
			}
			if term, _, _ := s.lead.get(); term != 0 && term == s.raft.CurrentTerm() {
				idx = i
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "no ready leader")
	return idx
}

// follower returns the position of a running member other than the leader
// and other than any in skip.
func (c *testCluster) follower(skip ...int) int {
	c.tb.Helper()
	l := c.leader()
outer:
	for i, s := range c.stores {
		if s == nil || i == l {
			continue
		}
		for _, k := range skip {
			if i == k {
				continue outer
			}
		}
		return i
	}
	c.tb.Fatal("no follower")
	return -1
}

// waitConverged waits until every running member has applied the same
// entries, then requires their state hashes to be equal.
func (c *testCluster) waitConverged() {
	c.tb.Helper()
	l := c.stores[c.leader()]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A linearizable read on every member makes it apply everything the
	// leader had committed.
	for _, s := range c.stores {
		if s != nil {
			_, err := s.Get(ctx, "\x00", WithCountOnly())
			require.NoError(c.tb, err)
		}
	}
	require.Eventually(c.tb, func() bool {
		want := l.fsm.applied.Load()
		for _, s := range c.stores {
			if s != nil && s.fsm.applied.Load() != want {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "members did not converge")
	h0, r0, err := l.kv.Hash()
	require.NoError(c.tb, err)
	for i, s := range c.stores {
		if s == nil {
			continue
		}
		h, r, err := s.kv.Hash()
		require.NoError(c.tb, err)
		require.Equal(c.tb, r0, r, "member %d revision", i)
		require.Equal(c.tb, h0, h, "member %d state hash", i)
	}
}
