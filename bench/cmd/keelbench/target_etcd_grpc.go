package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdGRPC drives an embedded etcd cluster with clientv3 over loopback gRPC
// to the leader's client URL.
type etcdGRPC struct {
	cluster *etcdCluster
	cli     *clientv3.Client
}

var _ backend = (*etcdGRPC)(nil)

// openEtcdGRPC starts an embedded etcd cluster and connects one clientv3
// client to its leader.
func openEtcdGRPC(ctx context.Context, dir string, members int) (backend, error) {
	c, err := startEtcd(ctx, dir, members)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{c.clientURL()},
		DialTimeout: 10 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("etcd client: %w", err), c.Close())
	}
	return &etcdGRPC{cluster: c, cli: cli}, nil
}

// Put implements backend.
func (b *etcdGRPC) Put(ctx context.Context, key, val string) error {
	_, err := b.cli.Put(ctx, key, val)
	return err
}

// Get implements backend.
func (b *etcdGRPC) Get(ctx context.Context, key string, serializable bool) (kv, error) {
	var resp *clientv3.GetResponse
	var err error
	if serializable {
		resp, err = b.cli.Get(ctx, key, clientv3.WithSerializable())
	} else {
		resp, err = b.cli.Get(ctx, key)
	}
	if err != nil {
		return kv{}, err
	}
	return etcdKV(resp.Kvs), nil
}

// CAS implements backend.
func (b *etcdGRPC) CAS(ctx context.Context, key string, modRev int64, val string) (bool, kv, error) {
	resp, err := b.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
		Then(clientv3.OpPut(key, val)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return false, kv{}, err
	}
	if resp.Succeeded {
		return true, kv{}, nil
	}
	if len(resp.Responses) != 1 || resp.Responses[0].GetResponseRange() == nil {
		return false, kv{}, fmt.Errorf("%w: etcd txn else branch returned %d responses", errCheck, len(resp.Responses))
	}
	return false, etcdKV(resp.Responses[0].GetResponseRange().Kvs), nil
}

// Watch implements backend.
func (b *etcdGRPC) Watch(ctx context.Context, prefix string) (func(fn func(key, val []byte)) error, error) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	ch := b.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	first, ok := <-ch
	switch {
	case !ok:
		cancel()
		return nil, fmt.Errorf("%w: etcd watch closed before it was created", errWatchEnded)
	case first.Err() != nil:
		cancel()
		return nil, fmt.Errorf("etcd watch: %w", first.Err())
	case !first.Created:
		cancel()
		return nil, fmt.Errorf("%w: etcd watch's first response is not its creation", errWatchEnded)
	}
	return func(fn func(key, val []byte)) error {
		defer func() {
			cancel()
			for range ch { // drain until clientv3 closes it
			}
		}()
		for resp := range ch {
			if err := resp.Err(); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("%w: etcd watch: %w", errWatchEnded, err)
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypePut {
					fn(ev.Kv.Key, ev.Kv.Value)
				}
			}
		}
		if ctx.Err() == nil {
			return fmt.Errorf("%w: etcd watch channel closed", errWatchEnded)
		}
		return nil
	}, nil
}

// Close implements backend.
func (b *etcdGRPC) Close() error {
	err := b.cli.Close()
	return errors.Join(err, b.cluster.Close())
}
