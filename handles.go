package keel

import (
	"context"
	"sync"
)

// NewKV returns s as a KV, for code written against clientv3.NewKV. The
// Store is its own KV: there is nothing to release.
func NewKV(s *Store) KV { return s }

// NewLease returns a Lease handle on s, as clientv3.NewLease does on a
// client: its calls are s's, and its Close stops the keepalives started
// through it (their channels close; the leases live on until they expire or
// are revoked) without closing s. After Close, KeepAlive fails with
// ErrKeepAliveHalted; the other calls still work. It is safe for
// concurrent use.
func NewLease(s *Store) Lease {
	return &leaseHandle{s: s, streams: newStreamSet()}
}

// NewWatcher returns a Watcher handle on s, as clientv3.NewWatcher does on
// a client: its calls are s's, and its Close cancels the watches made
// through it (their channels are closed, with no canceling response, as
// when their contexts end) without closing s. After Close, Watch returns a
// closed channel and RequestProgress fails with ErrHandleClosed. It is safe
// for concurrent use.
func NewWatcher(s *Store) Watcher {
	return &watcherHandle{s: s, streams: newStreamSet()}
}

// leaseHandle is NewLease's Lease. Its calls other than KeepAlive and
// Close are the Store's.
type leaseHandle struct {
	s       *Store
	streams *streamSet
}

func (h *leaseHandle) Grant(ctx context.Context, ttl int64) (*LeaseGrantResponse, error) {
	return h.s.Grant(ctx, ttl)
}

func (h *leaseHandle) Revoke(ctx context.Context, id LeaseID) (*LeaseRevokeResponse, error) {
	return h.s.Revoke(ctx, id)
}

func (h *leaseHandle) TimeToLive(ctx context.Context, id LeaseID, opts ...LeaseOption) (*LeaseTimeToLiveResponse, error) {
	return h.s.TimeToLive(ctx, id, opts...)
}

func (h *leaseHandle) Leases(ctx context.Context) (*LeaseLeasesResponse, error) {
	return h.s.Leases(ctx)
}

func (h *leaseHandle) KeepAliveOnce(ctx context.Context, id LeaseID) (*LeaseKeepAliveResponse, error) {
	return h.s.KeepAliveOnce(ctx, id)
}

func (h *leaseHandle) KeepAlive(ctx context.Context, id LeaseID) (<-chan *LeaseKeepAliveResponse, error) {
	ctx, done, ok := h.streams.start(ctx)
	if !ok {
		return nil, ErrKeepAliveHalted{Reason: ErrHandleClosed}
	}
	return h.s.keepAlive(ctx, id, done)
}

func (h *leaseHandle) Close() error {
	h.streams.close()
	return nil
}

// watcherHandle is NewWatcher's Watcher.
type watcherHandle struct {
	s       *Store
	streams *streamSet
}

func (h *watcherHandle) Watch(ctx context.Context, key string, opts ...OpOption) WatchChan {
	ctx, done, ok := h.streams.start(ctx)
	if !ok {
		ch := make(chan WatchResponse)
		close(ch)
		return ch
	}
	return h.s.watch(ctx, key, opts, done)
}

func (h *watcherHandle) RequestProgress(ctx context.Context) error {
	if h.streams.isClosed() {
		return ErrHandleClosed
	}
	return h.s.RequestProgress(ctx)
}

func (h *watcherHandle) Close() error {
	h.streams.close()
	return nil
}

// streamSet tracks the streams (watches, keepalives) started through a
// handle, so that the handle's Close can end them and wait until they
// have.
type streamSet struct {
	mu      sync.Mutex
	closed  bool
	next    uint64
	cancels map[uint64]context.CancelFunc
	wg      sync.WaitGroup
}

func newStreamSet() *streamSet {
	return &streamSet{cancels: make(map[uint64]context.CancelFunc)}
}

// start registers a new stream and returns its context, canceled by
// close, and done, which the stream must call exactly once when it has
// ended. ok is false if the set is closed.
func (ss *streamSet) start(ctx context.Context) (_ context.Context, done func(), ok bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(ctx)
	ss.next++
	id := ss.next
	ss.cancels[id] = cancel
	ss.wg.Add(1)
	done = func() {
		ss.mu.Lock()
		delete(ss.cancels, id)
		ss.mu.Unlock()
		cancel()
		ss.wg.Done()
	}
	return ctx, done, true
}

func (ss *streamSet) isClosed() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.closed
}

// close refuses new streams, cancels the running ones and waits until
// every one has ended.
func (ss *streamSet) close() {
	ss.mu.Lock()
	ss.closed = true
	cancels := ss.cancels
	ss.cancels = make(map[uint64]context.CancelFunc)
	ss.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}
	ss.wg.Wait()
}
