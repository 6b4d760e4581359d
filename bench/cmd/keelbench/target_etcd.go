package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver"
)

// etcdQuotaBytes is the backend quota of the benchmark's etcd members
// (etcd's documented maximum); the default 2 GiB would do as well.
const etcdQuotaBytes = 8 << 30

// etcdCluster is an embedded etcd cluster whose members all run in this
// process on 127.0.0.1.
type etcdCluster struct {
	members []*embed.Etcd
	leader  *embed.Etcd
}

// startEtcd starts members embedded etcd members under dir with embed's
// default configuration except names, URLs, dirs, the quota and the log
// level, and waits until every member is ready and a leader is known.
func startEtcd(ctx context.Context, dir string, members int) (*etcdCluster, error) {
	ports, err := freePorts(2 * members)
	if err != nil {
		return nil, err
	}
	names := make([]string, members)
	peerURLs := make([]url.URL, members)
	clientURLs := make([]url.URL, members)
	initial := make([]string, members)
	for i := range members {
		names[i] = fmt.Sprintf("m%d", i+1)
		peerURLs[i] = url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i])}
		clientURLs[i] = url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])}
		initial[i] = names[i] + "=" + peerURLs[i].String()
	}
	c := &etcdCluster{}
	for i := range members {
		cfg := embed.NewConfig()
		cfg.Name = names[i]
		cfg.Dir = filepath.Join(dir, names[i])
		cfg.ListenPeerUrls = []url.URL{peerURLs[i]}
		cfg.AdvertisePeerUrls = []url.URL{peerURLs[i]}
		cfg.ListenClientUrls = []url.URL{clientURLs[i]}
		cfg.AdvertiseClientUrls = []url.URL{clientURLs[i]}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "keelbench"
		cfg.LogLevel = "error"
		cfg.QuotaBackendBytes = etcdQuotaBytes
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("start etcd member %s: %w", names[i], err), c.Close())
		}
		c.members = append(c.members, e)
	}
	for _, e := range c.members {
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			return nil, errors.Join(fmt.Errorf("etcd member %s: %w", e.Config().Name, err), c.Close())
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("etcd member %s not ready: %w", e.Config().Name, ctx.Err()), c.Close())
		}
	}
	for c.leader == nil {
		for _, e := range c.members {
			if e.Server.Leader() == e.Server.MemberID() {
				c.leader = e
			}
		}
		if c.leader != nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("etcd: %w: %w", errNoLeader, ctx.Err()), c.Close())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return c, nil
}

// clientURL returns the leader's client URL.
func (c *etcdCluster) clientURL() string { return c.leader.Config().AdvertiseClientUrls[0].String() }

// Close stops every member.
func (c *etcdCluster) Close() error {
	for _, e := range c.members {
		e.Close()
	}
	c.members = nil
	return nil
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago (all listeners are held until every port is picked).
func freePorts(n int) ([]int, error) {
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// etcdDirect calls straight into the leader's *etcdserver.EtcdServer.
type etcdDirect struct {
	cluster *etcdCluster
	srv     *etcdserver.EtcdServer
}

var _ backend = (*etcdDirect)(nil)

// openEtcdDirect starts an embedded etcd cluster and drives its leader's
// EtcdServer without gRPC.
func openEtcdDirect(ctx context.Context, dir string, members int) (backend, error) {
	c, err := startEtcd(ctx, dir, members)
	if err != nil {
		return nil, err
	}
	return &etcdDirect{cluster: c, srv: c.leader.Server}, nil
}

// Put implements backend.
func (b *etcdDirect) Put(ctx context.Context, key, val string) error {
	_, err := b.srv.Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte(val)})
	return err
}

// Get implements backend.
func (b *etcdDirect) Get(ctx context.Context, key string, serializable bool) (kv, error) {
	resp, err := b.srv.Range(ctx, &pb.RangeRequest{Key: []byte(key), Serializable: serializable})
	if err != nil {
		return kv{}, err
	}
	return etcdKV(resp.Kvs), nil
}

// CAS implements backend.
func (b *etcdDirect) CAS(ctx context.Context, key string, modRev int64, val string) (bool, kv, error) {
	k := []byte(key)
	resp, err := b.srv.Txn(ctx, &pb.TxnRequest{
		Compare: []*pb.Compare{{
			Key: k, Target: pb.Compare_MOD, Result: pb.Compare_EQUAL,
			TargetUnion: &pb.Compare_ModRevision{ModRevision: modRev},
		}},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: k, Value: []byte(val)}}}},
		Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: k}}}},
	})
	if err != nil {
		return false, kv{}, err
	}
	if resp.Succeeded {
		return true, kv{}, nil
	}
	if len(resp.Responses) != 1 || resp.Responses[0].GetResponseRange() == nil {
		return false, kv{}, fmt.Errorf("%w: etcd txn failure branch returned %d responses", errCheck, len(resp.Responses))
	}
	return false, etcdKV(resp.Responses[0].GetResponseRange().Kvs), nil
}

func etcdKV(kvs []*mvccpb.KeyValue) kv {
	if len(kvs) == 0 {
		return kv{}
	}
	return kv{Value: kvs[0].Value, ModRev: kvs[0].ModRevision, Found: true}
}

// Watch implements backend.
func (b *etcdDirect) Watch(ctx context.Context, prefix string) (func(fn func(key, val []byte)) error, error) {
	ws := b.srv.Watchable().NewWatchStream()
	if _, err := ws.Watch(ctx, 0, []byte(prefix), []byte(prefixEnd(prefix)), 0); err != nil {
		ws.Close()
		return nil, fmt.Errorf("etcd watch: %w", err)
	}
	return func(fn func(key, val []byte)) error {
		defer ws.Close()
		for {
			select {
			case <-ctx.Done():
				return nil
			case resp, ok := <-ws.Chan():
				if !ok {
					return fmt.Errorf("%w: etcd watch stream closed", errWatchEnded)
				}
				if resp.CompactRevision != 0 {
					return fmt.Errorf("%w: etcd watch compacted at %d", errWatchEnded, resp.CompactRevision)
				}
				for _, ev := range resp.Events {
					if ev.Type == mvccpb.PUT {
						fn(ev.Kv.Key, ev.Kv.Value)
					}
				}
			}
		}
	}, nil
}

// Close implements backend.
func (b *etcdDirect) Close() error { return b.cluster.Close() }
