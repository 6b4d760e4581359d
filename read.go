package keel

import (
	"context"
	"errors"

	"github.com/keeldb/keel/mvcc"
)

// read serves a read: after the read-index wait unless serializable, fn
// runs against local state.
func (s *Store) read(ctx context.Context, serializable bool, fn func() (OpResponse, error)) (OpResponse, error) {
	if err := s.dataBarrier(ctx, serializable); err != nil {
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
		return s.errStopped()
	}
	if err := s.checkLeader(ctx); err != nil {
		return err
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

// dataBarrier is readBarrier for a read of the key-value data, which a
// member with a CORRUPT alarm refuses (membership and alarm reads still
// work there, so that it can be removed).
func (s *Store) dataBarrier(ctx context.Context, serializable bool) error {
	if err := s.corruptErr(); err != nil {
		return err
	}
	return s.readBarrier(ctx, serializable)
}

// readDone turns a local read's result into the API's.
func (s *Store) readDone(resp OpResponse, err error) (OpResponse, error) {
	if err != nil {
		return OpResponse{}, s.localReadErr(err)
	}
	s.fillHeaders(resp)
	return resp, nil
}

// localReadErr turns the error of a read of local state into the API's:
// a closed mvcc store means this member stopped.
func (s *Store) localReadErr(err error) error {
	if errors.Is(err, mvcc.ErrClosed) {
		return s.errStopped()
	}
	return err
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
