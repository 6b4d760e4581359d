package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/bench/internal/watchload"
)

// keelBackend drives the leader of an in-process Keel cluster through its
// *keel.Store API.
type keelBackend struct {
	cluster *watchload.Cluster
	leader  *keel.Store
}

var _ backend = (*keelBackend)(nil)

// openKeel starts members Keel members (default keel.Config, loopback TCP)
// under dir and waits for a leader.
func openKeel(ctx context.Context, dir string, members int) (backend, error) {
	c, err := watchload.StartCluster(ctx, watchload.ClusterConfig{Members: members, Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("start keel: %w", err)
	}
	l := c.Leader()
	if l < 0 {
		return nil, errors.Join(fmt.Errorf("keel: %w", errNoLeader), c.Close())
	}
	return &keelBackend{cluster: c, leader: c.Members[l]}, nil
}

// Put implements backend.
func (b *keelBackend) Put(ctx context.Context, key, val string) error {
	_, err := b.leader.Put(ctx, key, val)
	return err
}

// Get implements backend.
func (b *keelBackend) Get(ctx context.Context, key string, serializable bool) (kv, error) {
	var resp *keel.GetResponse
	var err error
	if serializable {
		resp, err = b.leader.Get(ctx, key, keel.WithSerializable())
	} else {
		resp, err = b.leader.Get(ctx, key)
	}
	if err != nil {
		return kv{}, err
	}
	return keelKV(resp.Kvs), nil
}

// CAS implements backend.
func (b *keelBackend) CAS(ctx context.Context, key string, modRev int64, val string) (bool, kv, error) {
	resp, err := b.leader.Txn(ctx).
		If(keel.Compare(keel.ModRevision(key), "=", modRev)).
		Then(keel.OpPut(key, val)).
		Else(keel.OpGet(key)).
		Commit()
	if err != nil {
		return false, kv{}, err
	}
	if resp.Succeeded {
		return true, kv{}, nil
	}
	if len(resp.Responses) != 1 || resp.Responses[0].Get() == nil {
		return false, kv{}, fmt.Errorf("%w: keel txn else branch returned %d responses", errCheck, len(resp.Responses))
	}
	return false, keelKV(resp.Responses[0].Get().Kvs), nil
}

func keelKV(kvs []*keel.KeyValue) kv {
	if len(kvs) == 0 {
		return kv{}
	}
	return kv{Value: kvs[0].Value, ModRev: kvs[0].ModRevision, Found: true}
}

// Watch implements backend.
func (b *keelBackend) Watch(ctx context.Context, prefix string) (func(fn func(key, val []byte)) error, error) {
	ch := b.leader.Watch(ctx, prefix, keel.WithPrefix())
	return func(fn func(key, val []byte)) error {
		for resp := range ch {
			if resp.Canceled {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("%w: keel watch canceled: %w", errWatchEnded, resp.Err())
			}
			for _, ev := range resp.Events {
				if ev.Type == keel.EventTypePut {
					fn(ev.Kv.Key, ev.Kv.Value)
				}
			}
		}
		if ctx.Err() == nil {
			return fmt.Errorf("%w: keel watch channel closed", errWatchEnded)
		}
		return nil
	}, nil
}

// Close implements backend.
func (b *keelBackend) Close() error { return b.cluster.Close() }
