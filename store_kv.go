package keel

import (
	"context"
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
func (s *Store) Do(ctx context.Context, op Op) (_ OpResponse, err error) {
	defer s.met.request(opKind(op.t), s.met.start(), &err)
	if err := checkOp(&op, s.cfg.MaxTxnOps); err != nil {
		return OpResponse{}, err
	}
	switch {
	case op.t == tRange:
		// No closure here: capturing op would move it to the heap on
		// every Get.
		if err := s.dataBarrier(ctx, op.serializable); err != nil {
			return OpResponse{}, err
		}
		g, err := execRange(s.kv, &op)
		return s.readDone(OpResponse{get: g}, err)
	case op.t == tTxn && !hasWrites(&op):
		return s.readTxn(ctx, &op)
	}
	cmd := encodeOpCommand(&op)
	if hasPuts(&op) {
		if err := s.admitWrite(len(cmd) + quotaWriteOverhead); err != nil {
			return OpResponse{}, err
		}
	}
	res, err := s.propose(ctx, cmd)
	if err != nil {
		return OpResponse{}, err
	}
	if res.err != nil {
		return OpResponse{}, res.err
	}
	s.fillHeaders(res.resp)
	return res.resp, nil
}

// Txn starts a transaction bound to ctx.
func (s *Store) Txn(ctx context.Context) Txn {
	return &txn{s: s, ctx: ctx}
}
