package watchload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/keeldb/keel"
)

// ClusterConfig configures [StartCluster]. The zero value means 3 members
// under os.TempDir() with Keel's defaults.
type ClusterConfig struct {
	// Members is the cluster size. Default 3.
	Members int
	// Dir is the parent of the cluster's temporary directory, which Close
	// removes. Default os.TempDir().
	Dir string
	// HeartbeatTimeout is passed to every member. Default: Keel's (1s).
	HeartbeatTimeout time.Duration
	// WatchBufferSize is passed to every member. Default: Keel's (64).
	WatchBufferSize int
	// Logger receives the members' logs. nil discards them.
	Logger *slog.Logger
}

// Cluster is a Keel cluster whose members all run in this process on
// loopback TCP. Leader and Follower are safe for concurrent use; Close is
// not, and must be called once the workloads using the cluster returned.
type Cluster struct {
	// Members are the running members, in Peers order.
	Members []*keel.Store
	dir     string
}

// StartCluster opens every member and waits (bounded by ctx) until a write
// through each member succeeds, so a leader is ready and every member
// forwards.
func StartCluster(ctx context.Context, cfg ClusterConfig) (c *Cluster, err error) {
	if cfg.Members <= 0 {
		cfg.Members = 3
	}
	if cfg.Dir == "" {
		cfg.Dir = os.TempDir()
	}
	dir, err := os.MkdirTemp(cfg.Dir, "watchbench-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{dir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
			c = nil
		}
	}()
	peers := make([]keel.Peer, cfg.Members)
	lns := make([]net.Listener, cfg.Members)
	for i := range peers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			return nil, err
		}
		lns[i] = ln
		peers[i] = keel.Peer{ID: fmt.Sprintf("m%d", i+1), Addr: ln.Addr().String()}
	}
	for i, p := range peers {
		s, err := keel.Open(keel.Config{
			ID: p.ID, Dir: filepath.Join(dir, p.ID), Addr: p.Addr, Peers: peers, Listener: lns[i],
			HeartbeatTimeout: cfg.HeartbeatTimeout, WatchBufferSize: cfg.WatchBufferSize, Logger: cfg.Logger,
		})
		if err != nil {
			for _, l := range lns[i+1:] {
				l.Close()
			}
			return nil, fmt.Errorf("open member %s: %w", p.ID, err)
		}
		c.Members = append(c.Members, s)
	}
	for i, m := range c.Members {
		if _, err := m.Put(ctx, "watchbench/ready", fmt.Sprint(i)); err != nil {
			return nil, fmt.Errorf("first write through member %s: %w", m.ID(), err)
		}
	}
	return c, nil
}

// Leader returns the position of the member that currently leads, or -1.
func (c *Cluster) Leader() int {
	for i, m := range c.Members {
		if m.IsLeader() {
			return i
		}
	}
	return -1
}

// Follower returns the position of a member that does not lead (the
// first after the leader), or 0 for a single member.
func (c *Cluster) Follower() int {
	l := c.Leader()
	if len(c.Members) == 1 || l < 0 {
		return 0
	}
	return (l + 1) % len(c.Members)
}

// Close closes every member and removes the cluster's directory. It is
// idempotent.
func (c *Cluster) Close() error {
	var errs []error
	for _, m := range c.Members {
		errs = append(errs, m.Close())
	}
	c.Members = nil
	if c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
		c.dir = ""
	}
	return errors.Join(errs...)
}
