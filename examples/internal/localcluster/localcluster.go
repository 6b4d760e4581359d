// Package localcluster starts a Keel cluster inside one process, for the
// example programs: n members on loopback, each with its own data
// directory under one temporary directory. Its config method shows what a
// member of a static cluster needs, and what a member that joins a running
// cluster needs (Join).
//
// Tests should use package keeltest instead: it cleans up through
// testing.TB and can inject faults.
package localcluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/keeldb/keel"
)

// Cluster is n Keel members on loopback. It is not safe for concurrent
// use: call its methods from one goroutine.
type Cluster struct {
	// Members are the members by position, with IDs "m1".."mN": the
	// first members, then those that joined. Stop and Leave set a
	// member's entry to nil; Restart sets it to the reopened member; Join
	// appends the new member (so a copy of the slice taken before does
	// not see it).
	Members []*keel.Store

	dir   string
	token string      // the ClusterToken: the secret a joining member presents
	peers []keel.Peer // the first members, the same Peers for each
	addrs []string    // every member's address, by position
}

// Start opens an n-member cluster in a new temporary directory. It does
// not wait for a leader: requests to any member wait for one (see
// WaitLeader). On error, everything Start opened is closed and removed.
func Start(n int) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "keel-example-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Members: make([]*keel.Store, n), dir: dir, peers: make([]keel.Peer, n), addrs: make([]string, n),
		token: rand.Text(), // a secret of its own for each cluster
	}
	// Listen first: every member must know every address before any opens.
	lns := make([]net.Listener, n)
	for i := range n {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			break
		}
		c.peers[i] = keel.Peer{ID: memberID(i), Addr: lns[i].Addr().String()}
		c.addrs[i] = c.peers[i].Addr
	}
	for i := 0; i < n && err == nil; i++ {
		err = c.open(i, lns[i])
		lns[i] = nil // closed by its member, or by open on failure
	}
	if err != nil {
		for _, ln := range lns {
			if ln != nil {
				ln.Close()
			}
		}
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// open opens member i on ln, which the member closes when it closes.
func (c *Cluster) open(i int, ln net.Listener) error {
	m, err := keel.Open(c.config(i, ln))
	if err != nil {
		ln.Close() // Open may fail before it takes ln over
		return err
	}
	c.Members[i] = m
	return nil
}

// memberID is the ID of the member at position i.
func memberID(i int) string { return fmt.Sprintf("m%d", i+1) }

// config returns the Config member i opens with: a stable ID, its own
// Dir, its address, and the cluster's ClusterToken. A first member has
// the same Peers as every other first member; a member that joined has
// the addresses of the running members to join through (Join), which a
// Dir that already belongs to the cluster ignores on a restart. ln is
// already listening on the address (Open takes ownership of it), so no
// other program can take the address between Start choosing it and the
// member opening.
func (c *Cluster) config(i int, ln net.Listener) keel.Config {
	cfg := keel.Config{
		ID:       memberID(i),
		Dir:      filepath.Join(c.dir, memberID(i)),
		Addr:     c.addrs[i],
		Listener: ln,
		// Without TLS, the token is what a joining member must present.
		ClusterToken: c.token,
		// Faster failure detection than the 1s default, which also
		// lowers the minimum lease TTL (MinLeaseTTL) to 3s.
		HeartbeatTimeout: 500 * time.Millisecond,
	}
	if i < len(c.peers) {
		cfg.Peers = c.peers
		return cfg
	}
	for j, m := range c.Members {
		if m != nil && j != i {
			cfg.Join = append(cfg.Join, m.Addr())
		}
	}
	return cfg
}

// Join opens a new member, with a fresh Dir and loopback address, that
// joins the running cluster through the running members (Config.Join),
// and returns its position. Like keel.Open for a joining member, it
// returns once the new member serves, as a learner: the leader promotes
// it to voter once it has caught up. Open takes no context: ctx's
// deadline, if any, bounds the join (Config.JoinTimeout). If the join
// fails, the position stays taken, with a nil entry.
func (c *Cluster) Join(ctx context.Context) (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return -1, err
	}
	i := len(c.Members)
	c.Members = append(c.Members, nil)
	c.addrs = append(c.addrs, ln.Addr().String())
	cfg := c.config(i, ln)
	if dl, ok := ctx.Deadline(); ok {
		cfg.JoinTimeout = max(time.Until(dl), time.Millisecond)
	}
	m, err := keel.Open(cfg)
	if err != nil {
		ln.Close()
		return i, err
	}
	c.Members[i] = m
	return i, nil
}

// Leave makes member i leave the cluster (keel.Store.Leave: removed from
// the members, then closed) and sets its entry to nil. Its Dir stays, but
// belongs to a removed member: Restart fails with keel.ErrRemoved.
func (c *Cluster) Leave(ctx context.Context, i int) error {
	m := c.Members[i]
	if m == nil {
		return fmt.Errorf("localcluster: member %s is not running", memberID(i))
	}
	if err := m.Leave(ctx); err != nil {
		return err
	}
	c.Members[i] = nil
	return nil
}

// WaitLeader returns the position of a running member that reports it is
// the leader (IsLeader), or ctx's error if none does before ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for i, m := range c.Members {
			if m != nil && m.IsLeader() {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("no leader: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop closes member i (a leader hands leadership over first) and keeps
// its Dir for Restart. Stopping a stopped member does nothing.
func (c *Cluster) Stop(i int) error {
	m := c.Members[i]
	c.Members[i] = nil
	if m == nil {
		return nil
	}
	return m.Close()
}

// Restart stops member i if it runs, then opens it again on its Dir and
// address; it catches up from the others. A just-closed address can take
// a moment to become free, so Restart retries listening on it until ctx
// ends.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	if err := c.Stop(i); err != nil {
		return err
	}
	ln, err := relisten(ctx, c.addrs[i])
	if err != nil {
		return err
	}
	return c.open(i, ln)
}

func relisten(ctx context.Context, addr string) (net.Listener, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln, nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-tick.C:
		}
	}
}

// Close closes every running member and removes the temporary directory.
func (c *Cluster) Close() error {
	var errs []error
	for i := range c.Members {
		errs = append(errs, c.Stop(i))
	}
	errs = append(errs, os.RemoveAll(c.dir))
	return errors.Join(errs...)
}
