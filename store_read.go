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
// state. Readers of a round share one readRound (no allocation per read).
// It is safe for concurrent use.
type readIndexer struct {
	s    *Store
	mu   sync.Mutex
	next *readRound // the round that readers arriving now join; nil if none
	kick chan struct{}
}

// readRound is one confirmation round and its result, published by
// closing done.
type readRound struct {
	done chan struct{}
	idx  uint64
	err  error
}

func newReadIndexer(s *Store) *readIndexer {
	return &readIndexer{s: s, kick: make(chan struct{}, 1)}
}

// index returns a raft index that a linearizable read must wait for.
func (ri *readIndexer) index(ctx context.Context) (uint64, error) {
	ri.mu.Lock()
	r := ri.next
	if r == nil {
		r = &readRound{done: make(chan struct{})}
		ri.next = r
	}
	ri.mu.Unlock()
	select {
	case ri.kick <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
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

// take returns the round readers have joined so far (nil if none) and
// makes later readers start a new one.
func (ri *readIndexer) take() *readRound {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	r := ri.next
	ri.next = nil
	return r
}

func (ri *readIndexer) run() {
	s := ri.s
	for {
		select {
		case <-s.stop:
			return
		case <-ri.kick:
		}
		for {
			r := ri.take()
			if r == nil {
				break
			}
			// Every fetch for r starts after all of r's readers arrived
			// (they joined before take), so any of its results will do;
			// a failed fetch is simply repeated after a backoff.
			backoff := 5 * time.Millisecond
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.ElectionTimeout)
				idx, err := s.fetchReadIndex(ctx)
				cancel()
				if err == nil || !retryableRead(err) {
					r.idx, r.err = idx, err
					close(r.done)
					break
				}
				select {
				case <-s.stop:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 100*time.Millisecond)
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
	if err := s.readBarrier(ctx, serializable); err != nil {
		return OpResponse{}, err
	}
	resp, err := fn()
	return s.readDone(resp, err)
}

// readBarrier waits until local state may serve a read: for a linearizable
// read, until this member applied the read index of a round that started
// after the call.
func (s *Store) readBarrier(ctx context.Context, serializable bool) error {
	if s.stopped() {
		return ErrStopped
	}
	if serializable {
		return nil
	}
	idx, err := s.reads.index(ctx)
	if err != nil {
		return err
	}
	return s.fsm.waitApplied(ctx, idx, s.stop)
}

// readDone turns a local read's result into the API's.
func (s *Store) readDone(resp OpResponse, err error) (OpResponse, error) {
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
