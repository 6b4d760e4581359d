package keel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/mvcc"
	"github.com/keeldb/keel/transport"
)

// readIndexer serves linearizable reads with the read-index protocol and
// batches them: all reads that arrive while one confirmation round is in
// flight share the next round. A round on the leader captures the commit
// index, confirms leadership with a quorum and returns the index; a round
// on a follower asks the leader for that index in one RPC. Every reader
// then waits until its own member has applied the index and reads local
// state. It is safe for concurrent use.
type readIndexer struct {
	s       *Store
	mu      sync.Mutex
	pending []*readWaiter
	kick    chan struct{}
}

type readWaiter struct {
	ctx context.Context
	ch  chan readResult // buffered: the round never blocks on a reader
}

type readResult struct {
	idx uint64
	err error
}

func newReadIndexer(s *Store) *readIndexer {
	return &readIndexer{s: s, kick: make(chan struct{}, 1)}
}

// index returns a raft index that a linearizable read must wait for.
func (ri *readIndexer) index(ctx context.Context) (uint64, error) {
	w := &readWaiter{ctx: ctx, ch: make(chan readResult, 1)}
	ri.mu.Lock()
	ri.pending = append(ri.pending, w)
	ri.mu.Unlock()
	select {
	case ri.kick <- struct{}{}:
	default:
	}
	select {
	case r := <-w.ch:
		return r.idx, r.err
	case <-ctx.Done():
		if ri.s.leaderAddr() == "" {
			return 0, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		}
		return 0, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-ri.s.stop:
		return 0, ErrStopped
	}
}

// take removes and returns the pending waiters whose context is live.
func (ri *readIndexer) take() []*readWaiter {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	live := ri.pending[:0:0]
	for _, w := range ri.pending {
		if w.ctx.Err() == nil {
			live = append(live, w)
		}
	}
	ri.pending = ri.pending[:0]
	return live
}

// requeue puts waiters back in front of newer ones after a failed round.
func (ri *readIndexer) requeue(ws []*readWaiter) {
	ri.mu.Lock()
	ri.pending = append(ws, ri.pending...)
	ri.mu.Unlock()
}

func (ri *readIndexer) run() {
	s := ri.s
	for {
		select {
		case <-s.stop:
			return
		case <-ri.kick:
		}
		backoff := 5 * time.Millisecond
		for {
			batch := ri.take()
			if len(batch) == 0 {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.ElectionTimeout)
			idx, err := s.fetchReadIndex(ctx)
			cancel()
			if err != nil && retryableRead(err) {
				ri.requeue(batch)
				select {
				case <-s.stop:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 100*time.Millisecond)
				continue
			}
			backoff = 5 * time.Millisecond
			for _, w := range batch {
				w.ch <- readResult{idx, err}
			}
		}
	}
}

// retryableRead reports whether a failed round may simply be retried:
// reads have no side effects, so every failure but a stop is retryable.
func retryableRead(err error) bool {
	return !errors.Is(err, ErrStopped)
}

// fetchReadIndex runs one confirmation round.
func (s *Store) fetchReadIndex(ctx context.Context) (uint64, error) {
	if s.raft.State() == raft.Leader {
		return s.leaderReadIndex(ctx)
	}
	addr := s.leaderAddr()
	if addr == "" {
		return 0, ErrNoLeader
	}
	resp, err := s.trans.Call(ctx, addr, []byte{msgReadIndex})
	if err != nil {
		if errors.Is(err, transport.ErrClosed) && s.stopped() {
			return 0, ErrStopped
		}
		return 0, err
	}
	return decodeReadIndexResponse(resp)
}

// read serves a read: after the read-index wait unless serializable, fn
// runs against local state.
func (s *Store) read(ctx context.Context, serializable bool, fn func() (OpResponse, error)) (OpResponse, error) {
	if s.stopped() {
		return OpResponse{}, ErrStopped
	}
	if !serializable {
		idx, err := s.reads.index(ctx)
		if err != nil {
			return OpResponse{}, err
		}
		if err := s.fsm.waitApplied(ctx, idx, s.stop); err != nil {
			return OpResponse{}, err
		}
	}
	resp, err := fn()
	if err != nil {
		if errors.Is(err, mvcc.ErrClosed) {
			return OpResponse{}, ErrStopped
		}
		return OpResponse{}, err
	}
	s.fillHeaders(resp)
	return resp, nil
}

// pinned reads the store at one revision, so that every compare and range
// of a read-only txn sees the same state.
type pinned struct {
	kv  *mvcc.Store
	rev int64
}

func (p pinned) Range(key, end []byte, ro mvcc.RangeOptions) (*mvcc.RangeResult, error) {
	if ro.Rev <= 0 {
		ro.Rev = p.rev
	}
	return p.kv.Range(key, end, ro)
}

// readTxn serves a txn without writes locally.
func (s *Store) readTxn(ctx context.Context, op *Op) (OpResponse, error) {
	return s.read(ctx, txnSerializable(op), func() (OpResponse, error) {
		p := pinned{kv: s.kv, rev: s.kv.Rev()}
		path, err := computePath(p, op)
		if err == nil {
			err = checkPath(p, s.kv, op, path)
		}
		if err != nil {
			return OpResponse{}, err
		}
		t, err := execTxn(p, nil, op, path)
		if err != nil {
			return OpResponse{}, err
		}
		r := OpResponse{txn: t}
		setRevision(r, p.rev)
		return r, nil
	})
}

// txnSerializable reports whether a read-only txn may be served from local
// state without a read-index round: every get in it asked for a
// serializable read. Unlike etcd, a txn with no gets at all (compares only)
// stays linearizable.
func txnSerializable(op *Op) bool {
	gets, ok := countSerializable(op)
	return ok && gets > 0
}

func countSerializable(op *Op) (gets int, ok bool) {
	for _, ops := range [][]Op{op.thenOps, op.elseOps} {
		for i := range ops {
			switch ops[i].t {
			case tRange:
				if !ops[i].serializable {
					return 0, false
				}
				gets++
			case tTxn:
				n, sub := countSerializable(&ops[i])
				if !sub {
					return 0, false
				}
				gets += n
			}
		}
	}
	return gets, true
}
