package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/embed"
)

// Messages etcd logs that this command watches.
const (
	etcdMsgCompacted = "compacted Raft logs"                  // debug; attr compact-index
	etcdMsgApplied   = "applied snapshot"                     // follower, after applying a leader's snapshot
	etcdMsgReceived  = "received and saved database snapshot" // follower; attr incoming-snapshot-size-bytes
	// A member serves clients only once it published its attributes
	// through raft; a publish that times out is retried after
	// ReqTimeout (7 s with the default 1 s election timeout).
	etcdMsgPublishFailed = "failed to publish local member to cluster through raft"
)

// etcdQuota is the backend quota: well above what the run stores.
const etcdQuota = 8 << 30

// etcdCluster is an etcd v3.7.3 cluster of 3 members embedded in this
// process (go.etcd.io/etcd/server/v3/embed) on loopback, and the member
// that joins it. Requests call the members' *etcdserver.EtcdServer
// directly: no gRPC (the join, as an etcd user does it, uses clientv3).
type etcdCluster struct {
	dir     string
	names   []string
	peers   []url.URL
	clients []url.URL
	initial string
	etcds   []*embed.Etcd
	logs    []*logCapture
	opened  []time.Time

	joiner     *embed.Etcd // the member join started
	joinerLog  *logCapture
	joinerOpen time.Time
}

var _ cluster = (*etcdCluster)(nil)

// startEtcd bootstraps a new cluster under dir and waits (bounded by ctx)
// for a leader that accepts writes.
func startEtcd(ctx context.Context, dir string) (c *etcdCluster, err error) {
	ports, err := freePorts(2 * members)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	c = &etcdCluster{
		dir: dir, names: make([]string, members), peers: make([]url.URL, members),
		clients: make([]url.URL, members), etcds: make([]*embed.Etcd, members),
		logs: make([]*logCapture, members), opened: make([]time.Time, members),
	}
	var initial []string
	for i := range members {
		c.names[i] = fmt.Sprintf("m%d", i+1)
		c.peers[i] = url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i])}
		c.clients[i] = url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])}
		initial = append(initial, c.names[i]+"="+c.peers[i].String())
	}
	c.initial = strings.Join(initial, ",")
	defer func() {
		if err != nil {
			err = errors.Join(err, c.close())
		}
	}()
	// Members of a new etcd cluster are started together: each one's start
	// may look for the others.
	if err := openAll(c, tuneDefault); err != nil {
		return nil, err
	}
	if err := waitWritable(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// config returns member i's configuration for t: etcd's defaults except
// names, directories, URLs, the quota, and a logger that only feeds the
// capture (no metrics listener).
func (c *etcdCluster) config(i int, t tuning) *embed.Config {
	return c.memberConfig(c.names[i], c.peers[i], c.clients[i], c.initial, embed.ClusterStateFlagNew, c.logs[i], t)
}

// memberConfig returns the configuration of the member called name with
// the given URLs that starts with initial (etcd's --initial-cluster) and
// state (--initial-cluster-state) and logs to lc.
func (c *etcdCluster) memberConfig(name string, peer, client url.URL, initial, state string, lc *logCapture, t tuning) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = filepath.Join(c.dir, name)
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.InitialCluster = initial
	cfg.InitialClusterToken = clusterToken
	cfg.ClusterState = state
	cfg.QuotaBackendBytes = etcdQuota
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newZapLogger(lc))
	if t == tuneSnapshot {
		cfg.SnapshotCount = 10000
		cfg.SnapshotCatchUpEntries = 1024
	}
	return cfg
}

func (c *etcdCluster) openMember(i int, t tuning) error {
	c.logs[i] = newLogCapture(etcdMsgCompacted, etcdMsgApplied, etcdMsgReceived)
	c.opened[i] = time.Now()
	e, err := embed.StartEtcd(c.config(i, t))
	if err != nil {
		return fmt.Errorf("etcd: start member %s: %w", c.names[i], err)
	}
	c.etcds[i] = e
	return nil
}

func (c *etcdCluster) put(ctx context.Context, kvs []kv) error {
	s := c.etcds[c.target()].Server
	if len(kvs) == 1 {
		_, err := s.Put(ctx, &pb.PutRequest{Key: []byte(kvs[0].key), Value: []byte(kvs[0].value)})
		return err
	}
	ops := make([]*pb.RequestOp, len(kvs))
	for i, p := range kvs {
		ops[i] = &pb.RequestOp{Request: &pb.RequestOp_RequestPut{
			RequestPut: &pb.PutRequest{Key: []byte(p.key), Value: []byte(p.value)},
		}}
	}
	_, err := s.Txn(ctx, &pb.TxnRequest{Success: ops})
	return err
}

// target returns the leader, or any running member if none is known
// (etcd forwards proposals from followers).
func (c *etcdCluster) target() int {
	if l := c.leader(); l >= 0 {
		return l
	}
	for i, e := range c.etcds {
		if e != nil {
			return i
		}
	}
	return 0
}

func (c *etcdCluster) get(ctx context.Context, i int, key string, serializable bool) (string, error) {
	r, err := c.etcds[i].Server.Range(ctx, &pb.RangeRequest{Key: []byte(key), Serializable: serializable})
	if err != nil {
		return "", err
	}
	if len(r.Kvs) == 0 {
		return "", errNotFound
	}
	return string(r.Kvs[0].Value), nil
}

func (c *etcdCluster) leader() int {
	for i, e := range c.etcds {
		if e != nil && e.Server.Leader() == e.Server.MemberID() {
			return i
		}
	}
	return -1
}

// lastIndex returns member i's committed index; with no write in flight
// it equals the last index of its log.
func (c *etcdCluster) lastIndex(i int) uint64 {
	s := c.etcds[i].Server
	return max(s.CommittedIndex(), s.AppliedIndex())
}

func (c *etcdCluster) closeMember(i int) error {
	e := c.etcds[i]
	if e == nil {
		return nil
	}
	c.etcds[i] = nil
	return closeEtcd(e, c.names[i])
}

// closeEtcd stops e, the member called name.
func closeEtcd(e *embed.Etcd, name string) error {
	e.Close()
	// Close closes Err after the server stopped; an error queued there
	// is one the member hit while running.
	var errs []error
	for err := range e.Err() { // nil channel impossible: StartEtcd made it
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("etcd: member %s: %w", name, errors.Join(errs...))
	}
	return nil
}

func (c *etcdCluster) files(i int) dataFiles {
	m := filepath.Join(c.dir, c.names[i], "member")
	return dataFiles{
		DB: filepath.Join(m, "snap", "db"), WAL: filepath.Join(m, "wal"),
		Snap: filepath.Join(m, "snap"), SnapExclude: filepath.Join(m, "snap", "db"),
	}
}

// snapshot streams the leader's backend snapshot, as Maintenance.Snapshot
// does (without its checksum trailer).
func (c *etcdCluster) snapshot(ctx context.Context, w io.Writer) (int64, error) {
	l := c.leader()
	if l < 0 {
		return 0, errors.New("etcd: snapshot: no leader")
	}
	sn := c.etcds[l].Server.Backend().Snapshot()
	defer sn.Close()
	return sn.WriteTo(w)
}

func (c *etcdCluster) compactedPast(i int, index uint64) bool {
	to, ok := c.logs[i].maxUint(etcdMsgCompacted, "compact-index", c.opened[i])
	return ok && to > index
}

func (c *etcdCluster) installedSnapshot(i int) (bool, int64) {
	ok := len(c.logs[i].since(etcdMsgApplied, c.opened[i])) > 0
	n, _ := c.logs[i].maxUint(etcdMsgReceived, "incoming-snapshot-size-bytes", c.opened[i])
	return ok, int64(n)
}

func (c *etcdCluster) close() error {
	var errs []error
	if c.joiner != nil {
		errs = append(errs, closeEtcd(c.joiner, joinerName))
		c.joiner = nil
	}
	for i := range c.etcds {
		errs = append(errs, c.closeMember(i))
	}
	return errors.Join(errs...)
}
