package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/keeldb/keel"
)

// Messages hashicorp/raft logs (through Keel's Config.Logger) that this
// command watches.
const (
	raftMsgCompacting = "compacting logs"           // attrs from, to
	raftMsgInstalled  = "Installed remote snapshot" // follower, after Restore
	raftMsgCopied     = "copied to local snapshot"  // follower, attr bytes
)

// clusterToken is the ClusterToken of every Keel member (a Keel cluster
// takes joins only with a token or TLS) and etcd's initial cluster token.
const clusterToken = "scalebench"

// keelCluster is a Keel cluster of 3 members in this process on loopback
// TCP, driven through the public API, and the member that joins it.
type keelCluster struct {
	dir    string
	peers  []keel.Peer
	stores []*keel.Store
	logs   []*logCapture
	opened []time.Time

	joiner     *keel.Store // the member join started, once Open returned
	joinerLog  *logCapture
	joinerOpen time.Time
}

var _ cluster = (*keelCluster)(nil)

// startKeel bootstraps a new cluster under dir and waits (bounded by ctx)
// for a leader that accepts writes.
func startKeel(ctx context.Context, dir string) (c *keelCluster, err error) {
	c = &keelCluster{
		dir: dir, peers: make([]keel.Peer, members), stores: make([]*keel.Store, members),
		logs: make([]*logCapture, members), opened: make([]time.Time, members),
	}
	lns := make([]net.Listener, members)
	for i := range members {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			closeListeners(lns)
			return nil, fmt.Errorf("keel: listen: %w", err)
		}
		lns[i] = ln
		c.peers[i] = keel.Peer{ID: fmt.Sprintf("m%d", i+1), Addr: ln.Addr().String()}
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.close())
		}
	}()
	for i := range members {
		if err := c.open(i, tuneDefault, lns[i]); err != nil {
			closeListeners(lns[i+1:])
			return nil, err
		}
	}
	if err := waitWritable(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// closeListeners closes every non-nil listener.
func closeListeners(lns []net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}

// config returns member i's configuration for t.
func (c *keelCluster) config(i int, t tuning) keel.Config {
	cfg := keel.Config{
		ID: c.peers[i].ID, Dir: filepath.Join(c.dir, c.peers[i].ID), Addr: c.peers[i].Addr,
		Peers: c.peers, ClusterToken: clusterToken, Logger: newSlogLogger(c.logs[i]),
	}
	tuneKeel(&cfg, t)
	return cfg
}

// tuneKeel applies t to cfg.
func tuneKeel(cfg *keel.Config, t tuning) {
	cfg.QuotaBytes = etcdQuota // the same space quota as etcd's members
	if t == tuneSnapshot {
		cfg.SnapshotThreshold = 8192
		cfg.TrailingLogs = 1024
		cfg.SnapshotInterval = time.Second
	}
}

func (c *keelCluster) open(i int, t tuning, ln net.Listener) error {
	c.logs[i] = newLogCapture(raftMsgCompacting, raftMsgInstalled, raftMsgCopied)
	cfg := c.config(i, t)
	cfg.Listener = ln
	c.opened[i] = time.Now()
	s, err := keel.Open(cfg)
	if err != nil {
		return fmt.Errorf("keel: open member %s: %w", c.peers[i].ID, err)
	}
	c.stores[i] = s
	return nil
}

func (c *keelCluster) put(ctx context.Context, kvs []kv) error {
	s := c.stores[c.target()]
	if len(kvs) == 1 {
		_, err := s.Put(ctx, kvs[0].key, kvs[0].value)
		return err
	}
	ops := make([]keel.Op, len(kvs))
	for i, p := range kvs {
		ops[i] = keel.OpPut(p.key, p.value)
	}
	_, err := s.Txn(ctx).Then(ops...).Commit()
	return err
}

// target returns the leader, or any running member if none is known
// (Keel forwards writes from followers).
func (c *keelCluster) target() int {
	if l := c.leader(); l >= 0 {
		return l
	}
	for i, s := range c.stores {
		if s != nil {
			return i
		}
	}
	return 0
}

func (c *keelCluster) get(ctx context.Context, i int, key string, serializable bool) (string, error) {
	var opts []keel.OpOption
	if serializable {
		opts = append(opts, keel.WithSerializable())
	}
	r, err := c.stores[i].Get(ctx, key, opts...)
	if err != nil {
		return "", err
	}
	if len(r.Kvs) == 0 {
		return "", errNotFound
	}
	return string(r.Kvs[0].Value), nil
}

func (c *keelCluster) leader() int {
	for i, s := range c.stores {
		if s != nil && s.IsLeader() {
			return i
		}
	}
	return -1
}

func (c *keelCluster) lastIndex(i int) uint64 {
	st, err := c.stores[i].Status(context.Background(), "")
	if err != nil {
		return 0
	}
	return st.RaftLastIndex
}

func (c *keelCluster) closeMember(i int) error {
	if c.stores[i] == nil {
		return nil
	}
	err := c.stores[i].Close()
	c.stores[i] = nil
	if err != nil {
		return fmt.Errorf("keel: close member %s: %w", c.peers[i].ID, err)
	}
	return nil
}

func (c *keelCluster) openMember(i int, t tuning) error { return c.open(i, t, nil) }

func (c *keelCluster) files(i int) dataFiles {
	d := filepath.Join(c.dir, c.peers[i].ID)
	return dataFiles{DB: filepath.Join(d, "kv.db"), WAL: filepath.Join(d, "wal"), Snap: filepath.Join(d, "snapshots")}
}

func (c *keelCluster) snapshot(ctx context.Context, w io.Writer) (int64, error) {
	l := c.leader()
	if l < 0 {
		return 0, errors.New("keel: snapshot: no leader")
	}
	rc, err := c.stores[l].Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(w, rc)
}

func (c *keelCluster) compactedPast(i int, index uint64) bool {
	to, ok := c.logs[i].maxUint(raftMsgCompacting, "to", c.opened[i])
	return ok && to > index
}

func (c *keelCluster) installedSnapshot(i int) (bool, int64) {
	ok := len(c.logs[i].since(raftMsgInstalled, c.opened[i])) > 0
	n, _ := c.logs[i].maxUint(raftMsgCopied, "bytes", c.opened[i])
	return ok, int64(n)
}

func (c *keelCluster) close() error {
	var errs []error
	if c.joiner != nil {
		if err := c.joiner.Close(); err != nil {
			errs = append(errs, fmt.Errorf("keel: close member %s: %w", joinerName, err))
		}
		c.joiner = nil
	}
	for i := range c.stores {
		errs = append(errs, c.closeMember(i))
	}
	return errors.Join(errs...)
}
