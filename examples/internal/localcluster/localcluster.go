// Package localcluster starts a Keel cluster inside one process, for the
// example programs: n members on loopback, each with its own data
// directory under one temporary directory. Its config method shows what a
// member of a static cluster needs.
//
// Tests should use package keeltest instead: it cleans up through
// testing.TB and can inject faults.
package localcluster

import (
	"context"
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
	// Members are the members by position, with IDs "m1".."mN". Stop sets
	// a member's entry to nil; Restart sets it to the reopened member.
	Members []*keel.Store

	dir   string
	peers []keel.Peer
}

// Start opens an n-member cluster in a new temporary directory. It does
// not wait for a leader: requests to any member wait for one (see
// WaitLeader). On error, everything Start opened is closed and removed.
func Start(n int) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "keel-example-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Members: make([]*keel.Store, n), dir: dir, peers: make([]keel.Peer, n)}
	// Listen first: every member must know every address before any opens.
	lns := make([]net.Listener, n)
	for i := range n {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			break
		}
		c.peers[i] = keel.Peer{ID: fmt.Sprintf("m%d", i+1), Addr: lns[i].Addr().String()}
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

// config returns the Config member i opens with: a stable ID, its own
// Dir, its address, and the same Peers as every other member. ln is
// already listening on the address (Open takes ownership of it), so no
// other program can take the address between Start choosing it and the
// member opening.
func (c *Cluster) config(i int, ln net.Listener) keel.Config {
	return keel.Config{
		ID:       c.peers[i].ID,
		Dir:      filepath.Join(c.dir, c.peers[i].ID),
		Addr:     c.peers[i].Addr,
		Peers:    c.peers,
		Listener: ln,
		// Faster failure detection than the 1s default, which also
		// lowers the minimum lease TTL (MinLeaseTTL) to 3s.
		HeartbeatTimeout: 500 * time.Millisecond,
	}
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
	ln, err := relisten(ctx, c.peers[i].Addr)
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
