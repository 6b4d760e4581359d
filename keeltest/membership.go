package keeltest

import (
	"context"
	"fmt"

	"github.com/keeldb/keel"
)

// Join starts a new member that joins the cluster through the others'
// addresses (Config.Join) and returns its position. Its ID is "m<i>"; its
// Config is member 0's timeouts and ClusterToken with a fresh Dir and
// address, adjusted by hook if non-nil (hook may change anything but ID,
// Addr and Peers). Join returns once the member serves (keel.Open's
// contract for a joining member), as a learner until the leader promotes
// it. It fails tb if the member cannot join.
func (c *Cluster) Join(hook func(cfg *keel.Config)) int {
	c.tb.Helper()
	i, err := c.JoinErr(hook)
	if err != nil {
		c.tb.Fatalf("keeltest: join member %d: %v", i, err)
	}
	return i
}

// JoinErr is Join that returns the error of a join that fails (for
// example, one the cluster refuses) instead of failing tb. The position
// stays taken either way.
func (c *Cluster) JoinErr(hook func(cfg *keel.Config)) (int, error) {
	c.tb.Helper()
	dir := c.tb.TempDir()
	p, err := bindPort()
	if err != nil {
		return -1, fmt.Errorf("bind: %w", err)
	}
	c.mu.Lock()
	i := len(c.ports)
	var join []string
	for _, q := range c.ports {
		join = append(join, q.addr())
	}
	base := c.cfgs[0]
	c.ports = append(c.ports, p)
	c.stores = append(c.stores, nil)
	c.hooks = append(c.hooks, nil)
	c.mu.Unlock()
	c.net.add(p)
	id := fmt.Sprintf("m%d", i)
	cfg := keel.Config{
		ID: id, Dir: dir, Addr: p.addr(), Join: join, Logger: testLogger(id),
		ClusterToken: base.ClusterToken, TLS: base.TLS, HeartbeatTimeout: HeartbeatTimeout,
		LeaderLeaseTimeout: base.LeaderLeaseTimeout,
	}
	if hook != nil {
		hook(&cfg)
	}
	if cfg.LeaderLeaseTimeout == 0 || cfg.LeaderLeaseTimeout > cfg.HeartbeatTimeout {
		cfg.LeaderLeaseTimeout = cfg.HeartbeatTimeout
	}
	cfg.ID, cfg.Addr, cfg.Peers = id, p.addr(), nil
	c.mu.Lock()
	c.cfgs = append(c.cfgs, cfg)
	c.mu.Unlock()
	return i, c.open(i)
}

// Leave makes member i leave the cluster (keel.Store.Leave) and takes it
// out of the running members. It fails tb if the member is not running
// or Leave fails.
func (c *Cluster) Leave(i int) {
	c.tb.Helper()
	s := c.Member(i)
	if s == nil {
		c.tb.Fatalf("keeltest: member %d is not running", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	if err := s.Leave(ctx); err != nil {
		c.tb.Fatalf("keeltest: member %d leaves: %v", i, err)
	}
	c.take(i)
}

// Forget takes member i out of the running members, closing it if it
// still runs: for a member the test removed from the cluster
// (MemberRemove), which stops by itself. Restart(i) opens its Dir again.
func (c *Cluster) Forget(i int) {
	c.tb.Helper()
	c.check(i)
	c.mu.Lock()
	s := c.stores[i]
	c.stores[i], c.hooks[i] = nil, nil
	c.mu.Unlock()
	if s != nil {
		_ = s.Close() // a removed member reports ErrRemoved
	}
}
