package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// raftNode is one member of the hand-built hashicorp/raft cluster.
type raftNode struct {
	raft  *raft.Raft
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore
}

// raftBackend applies put commands on the leader of a hashicorp/raft
// v1.8.0 cluster that uses raft-boltdb v2.3.0 as log and stable store.
type raftBackend struct {
	nodes  []*raftNode
	leader *raft.Raft
}

var _ backend = (*raftBackend)(nil)

// openRaft starts members raft nodes (raft.DefaultConfig, TCP transport on
// loopback, FileSnapshotStore, a map FSM), bootstraps them as one cluster
// and waits for a leader.
func openRaft(ctx context.Context, dir string, members int) (_ backend, err error) {
	b := &raftBackend{}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.Close())
		}
	}()
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Output: io.Discard, Level: hclog.Off})
	var servers []raft.Server
	var cfgs []*raft.Config
	for i := range members {
		id := fmt.Sprintf("m%d", i+1)
		nodeDir := filepath.Join(dir, id)
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return nil, err
		}
		trans, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 3, 10*time.Second, logger)
		if err != nil {
			return nil, fmt.Errorf("raft transport: %w", err)
		}
		n := &raftNode{trans: trans}
		b.nodes = append(b.nodes, n)
		if n.store, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(nodeDir, "raft.db")}); err != nil {
			return nil, fmt.Errorf("raft-boltdb: %w", err)
		}
		cfg := raft.DefaultConfig()
		cfg.LocalID = raft.ServerID(id)
		cfg.Logger = logger
		cfgs = append(cfgs, cfg)
		servers = append(servers, raft.Server{ID: cfg.LocalID, Address: trans.LocalAddr()})
	}
	for i, n := range b.nodes {
		snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, string(cfgs[i].LocalID)), 2, logger)
		if err != nil {
			return nil, fmt.Errorf("raft snapshots: %w", err)
		}
		if err := raft.BootstrapCluster(cfgs[i], n.store, n.store, snaps, n.trans, raft.Configuration{Servers: servers}); err != nil {
			return nil, fmt.Errorf("raft bootstrap: %w", err)
		}
		if n.raft, err = raft.NewRaft(cfgs[i], newMapFSM(), n.store, n.store, snaps, n.trans); err != nil {
			return nil, fmt.Errorf("raft: %w", err)
		}
	}
	for b.leader == nil {
		for _, n := range b.nodes {
			if n.raft.State() == raft.Leader {
				b.leader = n.raft
			}
		}
		if b.leader != nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("raft: %w: %w", errNoLeader, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The leader is usable once its first entry (the no-op of its term)
	// is applied.
	if err := b.leader.Barrier(time.Minute).Error(); err != nil {
		return nil, fmt.Errorf("raft barrier: %w", err)
	}
	return b, nil
}

// Put implements backend.
func (b *raftBackend) Put(ctx context.Context, key, val string) error {
	timeout := time.Duration(0)
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return b.leader.Apply(encodePut(key, val), timeout).Error()
}

// Get implements backend.
func (b *raftBackend) Get(context.Context, string, bool) (kv, error) { return kv{}, errNotSupported }

// CAS implements backend.
func (b *raftBackend) CAS(context.Context, string, int64, string) (bool, kv, error) {
	return false, kv{}, errNotSupported
}

// Watch implements backend.
func (b *raftBackend) Watch(context.Context, string) (func(fn func(key, val []byte)) error, error) {
	return nil, errNotSupported
}

// Close implements backend.
func (b *raftBackend) Close() error {
	var errs []error
	for _, n := range b.nodes {
		if n.raft != nil {
			errs = append(errs, n.raft.Shutdown().Error())
		}
		if n.trans != nil {
			errs = append(errs, n.trans.Close())
		}
		if n.store != nil {
			errs = append(errs, n.store.Close())
		}
	}
	b.nodes = nil
	return errors.Join(errs...)
}

// encodePut encodes a put command: uvarint key length, key, value.
func encodePut(key, val string) []byte {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(key)+len(val))
	buf = binary.AppendUvarint(buf, uint64(len(key)))
	buf = append(buf, key...)
	return append(buf, val...)
}

// decodePut reverses encodePut.
func decodePut(b []byte) (key, val string, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return "", "", fmt.Errorf("%w: malformed put command", errCheck)
	}
	return string(b[w : w+int(n)]), string(b[w+int(n):]), nil
}

// mapFSM is a raft.FSM holding a map of keys to values.
type mapFSM struct {
	mu sync.Mutex
	m  map[string]string
}

var _ raft.FSM = (*mapFSM)(nil)

func newMapFSM() *mapFSM { return &mapFSM{m: map[string]string{}} }

// Apply applies one put command.
func (f *mapFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	k, v, err := decodePut(l.Data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.m[k] = v
	f.mu.Unlock()
	return nil
}

// Snapshot copies the map.
func (f *mapFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return mapSnapshot(maps.Clone(f.m)), nil
}

// Restore replaces the map with a snapshot's content.
func (f *mapFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	m := map[string]string{}
	for len(data) > 0 {
		n, w := binary.Uvarint(data)
		if w <= 0 || uint64(len(data)-w) < n {
			return fmt.Errorf("%w: malformed snapshot", errCheck)
		}
		k, v, err := decodePut(data[w : w+int(n)])
		if err != nil {
			return err
		}
		m[k] = v
		data = data[w+int(n):]
	}
	f.mu.Lock()
	f.m = m
	f.mu.Unlock()
	return nil
}

// mapSnapshot is a copy of a mapFSM's map: a sequence of length-prefixed
// put commands.
type mapSnapshot map[string]string

// Persist writes the snapshot to sink.
func (s mapSnapshot) Persist(sink raft.SnapshotSink) error {
	var buf []byte
	for k, v := range s {
		rec := encodePut(k, v)
		buf = binary.AppendUvarint(buf, uint64(len(rec)))
		buf = append(buf, rec...)
	}
	if _, err := sink.Write(buf); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot; there is nothing to release.
func (s mapSnapshot) Release() {}
