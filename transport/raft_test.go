package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/testpki"
)

// countFSM records applied commands.
type countFSM struct {
	mu      sync.Mutex
	applied []string
}

func (f *countFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, string(l.Data))
	return len(f.applied)
}

func (f *countFSM) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applied)
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) { return noopSnapshot{}, nil }
func (f *countFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type noopSnapshot struct{}

func (noopSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (noopSnapshot) Release()                             {}

// raftNode is one member of a test cluster.
type raftNode struct {
	id    raft.ServerID
	tr    *Transport
	raft  *raft.Raft
	fsm   *countFSM
	alive bool
}

func (n *raftNode) stop(tb testing.TB) {
	tb.Helper()
	if !n.alive {
		return
	}
	n.alive = false
	require.NoError(tb, n.raft.Shutdown().Error())
	require.NoError(tb, n.tr.Close())
}

// newRaftCluster starts n raft members over Transports and bootstraps them.
func newRaftCluster(tb testing.TB, n int, tlsFor func(i int) *tls.Config) []*raftNode {
	tb.Helper()
	nodes := make([]*raftNode, n)
	var servers []raft.Server
	for i := range n {
		var tc *tls.Config
		if tlsFor != nil {
			tc = tlsFor(i)
		}
		tr, err := Listen(Config{TLS: tc, Handler: func(_ context.Context, req []byte) ([]byte, error) {
			return append([]byte(fmt.Sprintf("node%d:", i)), req...), nil
		}, RaftTimeout: 2 * time.Second})
		require.NoError(tb, err)
		id := raft.ServerID(fmt.Sprintf("node%d", i))
		nodes[i] = &raftNode{id: id, tr: tr, fsm: &countFSM{}}
		servers = append(servers, raft.Server{ID: id, Address: raft.ServerAddress(tr.Addr())})
	}
	for _, node := range nodes {
		conf := raft.DefaultConfig()
		conf.LocalID = node.id
		conf.HeartbeatTimeout = 500 * time.Millisecond
		conf.ElectionTimeout = 500 * time.Millisecond
		conf.LeaderLeaseTimeout = 250 * time.Millisecond
		conf.CommitTimeout = 10 * time.Millisecond
		conf.Logger = hclog.NewNullLogger()
		r, err := raft.NewRaft(conf, node.fsm, raft.NewInmemStore(), raft.NewInmemStore(),
			raft.NewInmemSnapshotStore(), node.tr.Raft())
		require.NoError(tb, err)
		node.raft, node.alive = r, true
	}
	tb.Cleanup(func() {
		for _, node := range nodes {
			node.stop(tb)
		}
	})
	require.NoError(tb, nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error())
	return nodes
}

// waitLeader returns the live node that leads, polling until one does.
func waitLeader(tb testing.TB, nodes []*raftNode) *raftNode {
	tb.Helper()
	var leader *raftNode
	eventually(tb, "a leader", func() bool {
		for _, n := range nodes {
			if n.alive && n.raft.State() == raft.Leader {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

// applyN applies n entries through whichever node leads, retrying an entry
// when leadership moves (so an entry may be applied twice; callers count
// with >=).
func applyN(tb testing.TB, nodes []*raftNode, prefix string, n int) {
	tb.Helper()
	for i := range n {
		deadline := time.Now().Add(waitFor)
		for {
			err := waitLeader(tb, nodes).raft.Apply([]byte(prefix+strconv.Itoa(i)), waitFor).Error()
			if err == nil {
				break
			}
			if !errors.Is(err, raft.ErrLeadershipLost) && !errors.Is(err, raft.ErrNotLeader) || time.Now().After(deadline) {
				require.NoError(tb, err)
			}
		}
	}
}

// startRPCs makes Calls between every pair of live nodes until the
// returned stop is called; stop reports successful calls and any errors.
func startRPCs(nodes []*raftNode) (stop func() (int, []error)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var calls int
	var errs []error
	for _, from := range nodes {
		for j, to := range nodes {
			if from == to || !from.alive || !to.alive {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := fmt.Sprintf("node%d:ping", j)
				for ctx.Err() == nil {
					resp, err := from.tr.Call(ctx, to.tr.Addr(), []byte("ping"))
					if ctx.Err() != nil {
						return
					}
					mu.Lock()
					if err != nil || string(resp) != want {
						errs = append(errs, fmt.Errorf("call %s→%s: %q, %w", from.id, to.id, resp, err))
					} else {
						calls++
					}
					mu.Unlock()
				}
			}()
		}
	}
	return func() (int, []error) {
		cancel()
		wg.Wait()
		return calls, errs
	}
}

// TestRaftOverMux runs a 3-member raft cluster over the multiplexed
// listeners, with Keel RPCs flowing between the same members meanwhile.
func TestRaftOverMux(t *testing.T) {
	tests := []struct {
		name   string
		tlsFor func(t *testing.T) func(i int) *tls.Config
	}{
		{"plaintext", func(*testing.T) func(int) *tls.Config { return nil }},
		{"mutual TLS", func(t *testing.T) func(int) *tls.Config {
			pki := testpki.New(t)
			return func(i int) *tls.Config { return pki.MemberTLS(t, fmt.Sprintf("node%d", i)) }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nodes := newRaftCluster(t, 3, tc.tlsFor(t))
			stopRPCs := startRPCs(nodes)

			applyN(t, nodes, "a", 20)
			for _, n := range nodes {
				eventually(t, string(n.id)+" applying 20 entries", func() bool { return n.fsm.count() >= 20 })
			}
			calls, errs := stopRPCs()
			require.Empty(t, errs)
			require.Positive(t, calls, "RPCs succeeded alongside raft")

			// Survive the leader's shutdown.
			leader := waitLeader(t, nodes)
			leader.stop(t)
			stopRPCs = startRPCs(nodes)
			newLeader := waitLeader(t, nodes)
			require.NotEqual(t, leader.id, newLeader.id)
			applyN(t, nodes, "b", 10)
			for _, n := range nodes {
				if n.alive {
					eventually(t, string(n.id)+" applying 30 entries", func() bool { return n.fsm.count() >= 30 })
				}
			}
			calls, errs = stopRPCs()
			require.Empty(t, errs)
			require.Positive(t, calls)
		})
	}
}
