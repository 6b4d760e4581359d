package keel

import (
	"context"
	"fmt"
)

// Put puts a key-value pair, replicated through raft. Options: WithLease,
// WithPrevKV, WithIgnoreValue, WithIgnoreLease. The response's header
// revision is the revision the put created.
func (s *Store) Put(ctx context.Context, key, val string, opts ...OpOption) (*PutResponse, error) {
	r, err := s.Do(ctx, OpPut(key, val, opts...))
	if err != nil {
		return nil, err
	}
	return r.Put(), nil
}

// Get reads a key, or a range with WithRange, WithPrefix or WithFromKey.
// By default the read is linearizable: it reflects every write that
// completed before Get was called, on any member. WithSerializable reads
// this member's local state without a network round trip; it may be stale.
// Other options: WithLimit, WithRev, WithSort, WithKeysOnly, WithCountOnly
// and the min/max revision filters.
func (s *Store) Get(ctx context.Context, key string, opts ...OpOption) (*GetResponse, error) {
	r, err := s.Do(ctx, OpGet(key, opts...))
	if err != nil {
		return nil, err
	}
	return r.Get(), nil
}

// Delete deletes a key, or a range with WithRange, WithPrefix or
// WithFromKey. WithPrevKV returns the deleted pairs. A delete that matches
// nothing does not create a revision.
func (s *Store) Delete(ctx context.Context, key string, opts ...OpOption) (*DeleteResponse, error) {
	r, err := s.Do(ctx, OpDelete(key, opts...))
	if err != nil {
		return nil, err
	}
	return r.Del(), nil
}

// Do runs op. Gets and transactions without writes are served by this
// member after a read-index round (or from local state if serializable);
// everything else goes through raft.
func (s *Store) Do(ctx context.Context, op Op) (OpResponse, error) {
	if err := checkOp(&op, s.cfg.MaxTxnOps); err != nil {
		return OpResponse{}, err
	}
	switch {
	case op.t == tRange:
		// No closure here: capturing op would move it to the heap on
		// every Get.
		if err := s.readBarrier(ctx, op.serializable); err != nil {
			return OpResponse{}, err
		}
		g, err := execRange(s.kv, &op)
		return s.readDone(OpResponse{get: g}, err)
	case op.t == tTxn && !hasWrites(&op):
		return s.readTxn(ctx, &op)
	}
	res, err := s.propose(ctx, encodeOpCommand(&op))
	if err != nil {
		return OpResponse{}, err
	}
	if res.err != nil {
		return OpResponse{}, res.err
	}
	s.fillHeaders(res.resp)
	return res.resp, nil
}

// fillHeaders completes every header of r with this member's identity and
// term; the revision was set where the response was produced.
func (s *Store) fillHeaders(r OpResponse) {
	term := s.raft.CurrentTerm()
	forEachHeader(r, func(h *ResponseHeader) {
		h.ClusterID, h.MemberID, h.RaftTerm = s.id.ClusterID, s.memberID, term
	})
}

// Txn starts a transaction bound to ctx.
func (s *Store) Txn(ctx context.Context) Txn {
	return &txn{s: s, ctx: ctx}
}

// Txn is a transaction under construction, as in clientv3:
//
//	resp, err := s.Txn(ctx).
//		If(keel.Compare(keel.ModRevision("k"), "=", rev)).
//		Then(keel.OpPut("k", "v2")).
//		Else(keel.OpGet("k")).
//		Commit()
//
// If, Then and Else may each be called once, in that order; a violation
// makes Commit fail with ErrInvalidTxn. A Txn is not safe for concurrent
// use.
type Txn interface {
	// If adds the compares; all must hold for Then to run.
	If(cs ...Cmp) Txn
	// Then sets the operations run when every compare holds.
	Then(ops ...Op) Txn
	// Else sets the operations run otherwise.
	Else(ops ...Op) Txn
	// Commit runs the transaction atomically at one revision.
	Commit() (*TxnResponse, error)
}

type txn struct {
	s     *Store
	ctx   context.Context
	cmps  []Cmp
	then  []Op
	els   []Op
	stage int // 0 fresh, 1 after If, 2 after Then, 3 after Else
	err   error
}

func (t *txn) advance(stage int, name string) bool {
	if t.stage >= stage {
		if t.err == nil {
			t.err = fmt.Errorf("%w: %s called twice or out of order", ErrInvalidTxn, name)
		}
		return false
	}
	t.stage = stage
	return true
}

func (t *txn) If(cs ...Cmp) Txn {
	if t.advance(1, "If") {
		t.cmps = append([]Cmp(nil), cs...)
	}
	return t
}

func (t *txn) Then(ops ...Op) Txn {
	if t.advance(2, "Then") {
		t.then = append([]Op(nil), ops...)
	}
	return t
}

func (t *txn) Else(ops ...Op) Txn {
	if t.advance(3, "Else") {
		t.els = append([]Op(nil), ops...)
	}
	return t
}

func (t *txn) Commit() (*TxnResponse, error) {
	if t.err != nil {
		return nil, t.err
	}
	r, err := t.s.Do(t.ctx, OpTxn(t.cmps, t.then, t.els))
	if err != nil {
		return nil, err
	}
	return r.Txn(), nil
}
