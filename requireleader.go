package keel

import (
	"context"
	"sync"
	"time"
)

// maxNoLeaderTicks is how many ElectionTimeouts in a row this member must
// see no leader before the streams that require one are ended (etcd's
// server uses the same count of election timeouts).
const maxNoLeaderTicks = 3

type requireLeaderKey struct{}

// WithRequireLeader returns a context that makes the calls made with it
// fail fast with ErrNoLeader when this member knows no leader, instead of
// waiting for one until the context ends (etcd's clientv3.WithRequireLeader,
// whose server-side check this reproduces).
//
//   - A call (Get, Put, Delete, Txn, Do, Compact, Grant, Revoke,
//     TimeToLive, Leases, KeepAliveOnce, the Member* and Alarm* calls)
//     fails at once with ErrNoLeader if this member knows no leader when
//     it starts, even a serializable Get, as in etcd. The calls that work
//     on local state (Status, HashKV, Snapshot, Defragment) ignore it.
//   - A Watch or KeepAlive started with it fails the same way at the
//     start, and is ended later if this member then goes three
//     ElectionTimeouts in a row without a leader: the watch receives a
//     last response with Canceled set and Err() = ErrNoLeader, and the
//     keepalive channel is closed. This keeps a watcher on a member cut off
//     from the cluster from waiting forever for events that may never come.
//
// The context's deadline and cancellation are unchanged.
func WithRequireLeader(ctx context.Context) context.Context {
	return context.WithValue(ctx, requireLeaderKey{}, true)
}

// requiresLeader reports whether ctx was made by WithRequireLeader.
func requiresLeader(ctx context.Context) bool {
	v, _ := ctx.Value(requireLeaderKey{}).(bool)
	return v
}

// checkLeader returns ErrNoLeader if ctx requires a leader and this member
// knows none.
func (s *Store) checkLeader(ctx context.Context) error {
	if requiresLeader(ctx) && s.leaderAddr() == "" {
		return ErrNoLeader
	}
	return nil
}

// leaderMonitor holds the streams (watches, keepalives) made with
// WithRequireLeader, to end them once this member has had no leader for
// maxNoLeaderTicks ElectionTimeouts (monitorLeader). It is safe for
// concurrent use.
type leaderMonitor struct {
	mu      sync.Mutex
	next    uint64
	streams map[uint64]func()
}

// add registers end, to be called (once, from the monitor's goroutine) when
// the member has gone without a leader for too long. The returned remove
// unregisters it; it never blocks, so it may be called while end runs.
func (m *leaderMonitor) add(end func()) (remove func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.streams == nil {
		m.streams = make(map[uint64]func())
	}
	m.next++
	id := m.next
	m.streams[id] = end
	return func() {
		m.mu.Lock()
		delete(m.streams, id)
		m.mu.Unlock()
	}
}

// endAll unregisters every stream and ends it. The ends run without m.mu
// held: ending a stream takes its own locks, whose holders may call remove.
func (m *leaderMonitor) endAll() {
	m.mu.Lock()
	streams := m.streams
	m.streams = nil
	m.mu.Unlock()
	for _, end := range streams {
		end()
	}
}

// monitorLeader checks every ElectionTimeout whether this member knows a
// leader, and ends the streams that require one once it has known none at
// maxNoLeaderTicks checks in a row.
func (s *Store) monitorLeader() {
	t := time.NewTicker(s.cfg.ElectionTimeout)
	defer t.Stop()
	missing := 0
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.leaderAddr() != "" {
			missing = 0
			continue
		}
		if missing++; missing >= maxNoLeaderTicks {
			s.noLeader.endAll()
		}
	}
}
