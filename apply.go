package keel

import (
	"slices"

	"github.com/keeldb/keel/mvcc"
)

// applyResult is what applying one command produced: a response or a
// deterministic error (the same on every member).
type applyResult struct {
	resp  OpResponse
	err   error
	index uint64 // the raft index of the entry

	// compact is set for a compaction; compactDone (local only, never
	// encoded) closes when its physical removal finished on this member.
	compact     *CompactResponse
	compactDone <-chan struct{}

	grant  *LeaseGrantResponse  // set for a lease grant
	revoke *LeaseRevokeResponse // set for a lease revoke
	alarm  *AlarmResponse       // set for an alarm change (apply_alarm.go)
}

// applyCompact compacts history at raft index idx.
func applyCompact(kv *mvcc.Store, idx uint64, rev int64) *applyResult {
	tw := kv.Write(idx)
	done, err := tw.Compact(rev)
	tw.End()
	if err != nil {
		return &applyResult{err: err}
	}
	return &applyResult{compact: &CompactResponse{Header: &ResponseHeader{Revision: kv.Rev()}}, compactDone: done}
}

// reader is the read side shared by mvcc write txns and pinned read views.
type reader interface {
	Range(key, end []byte, ro mvcc.RangeOptions) (*mvcc.RangeResult, error)
}

// leaseReader looks leases up; mvcc write txns implement it.
type leaseReader interface {
	Lease(id int64) (mvcc.LeaseRecord, bool)
}

// rangeOptions maps a get op to mvcc's options.
func rangeOptions(op *Op) mvcc.RangeOptions {
	return mvcc.RangeOptions{
		Rev: op.rev, Limit: op.limit,
		CountOnly: op.countOnly, KeysOnly: op.keysOnly,
		SortTarget: op.sortTarget, SortOrder: op.sortOrder,
		MinModRev: op.minModRev, MaxModRev: op.maxModRev,
		MinCreateRev: op.minCreateRev, MaxCreateRev: op.maxCreateRev,
	}
}

func execRange(r reader, op *Op) (*GetResponse, error) {
	rr, err := r.Range(op.key, op.end, rangeOptions(op))
	if err != nil {
		return nil, err
	}
	return &GetResponse{Header: &ResponseHeader{Revision: rr.Rev}, Kvs: rr.KVs, More: rr.More, Count: rr.Count}, nil
}

// getOne returns the live version of key, or nil.
func getOne(r reader, key []byte) (*KeyValue, error) {
	rr, err := r.Range(key, nil, mvcc.RangeOptions{})
	if err != nil || len(rr.KVs) == 0 {
		return nil, err
	}
	return rr.KVs[0], nil
}

// evalCmp evaluates one compare against the current state of r.
func evalCmp(r reader, c *Cmp) (bool, error) {
	rr, err := r.Range(c.key, c.end, mvcc.RangeOptions{})
	if err != nil {
		return false, err
	}
	if len(rr.KVs) == 0 {
		return c.holds(nil), nil
	}
	for _, kv := range rr.KVs {
		if !c.holds(kv) {
			return false, nil
		}
	}
	return true, nil
}

// txnPath records which branch every (nested) txn of a request takes. All
// compares are evaluated up front against the state before the txn, as
// etcd does, so a nested compare does not see earlier writes of the same
// txn.
type txnPath struct {
	succeeded bool
	children  []*txnPath // one per nested txn op of the chosen branch, in order
}

func computePath(r reader, op *Op) (*txnPath, error) {
	p := &txnPath{succeeded: true}
	for i := range op.cmps {
		ok, err := evalCmp(r, &op.cmps[i])
		if err != nil {
			return nil, err
		}
		if !ok {
			p.succeeded = false
			break
		}
	}
	for _, sub := range p.branch(op) {
		if sub.t != tTxn {
			continue
		}
		child, err := computePath(r, &sub)
		if err != nil {
			return nil, err
		}
		p.children = append(p.children, child)
	}
	return p, nil
}

func (p *txnPath) branch(op *Op) []Op {
	if p.succeeded {
		return op.thenOps
	}
	return op.elseOps
}

// checkPath validates the ops on the chosen path against the state before
// the txn, so that a failing request changes nothing.
func checkPath(r reader, kv *mvcc.Store, op *Op, p *txnPath) error {
	next := 0
	for i := range p.branch(op) {
		sub := &p.branch(op)[i]
		var err error
		switch sub.t {
		case tRange:
			err = checkRangeRev(kv, sub.rev)
		case tPut:
			err = checkPut(r, sub)
		case tTxn:
			err = checkPath(r, kv, sub, p.children[next])
			next++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func checkRangeRev(kv *mvcc.Store, rev int64) error {
	if rev <= 0 {
		return nil
	}
	if rev > kv.Rev() {
		return ErrFutureRev
	}
	if rev < kv.CompactRev() {
		return ErrCompacted
	}
	return nil
}

// checkPut rejects a put whose lease does not exist, or that keeps the
// value or lease of a missing key.
func checkPut(r reader, op *Op) error {
	if op.leaseID != NoLease {
		l, ok := r.(leaseReader)
		if !ok {
			return ErrLeaseNotFound
		}
		if _, exists := l.Lease(int64(op.leaseID)); !exists {
			return ErrLeaseNotFound
		}
	}
	if op.ignoreValue || op.ignoreLease {
		prev, err := getOne(r, op.key)
		if err != nil {
			return err
		}
		if prev == nil {
			return ErrKeyNotFound
		}
	}
	return nil
}

// hasWrites reports whether op, or any op nested in it, writes.
func hasWrites(op *Op) bool { return hasOpOf(op, tPut, tDeleteRange) }

// hasPuts reports whether op, or any op nested in it (in either branch),
// is a put.
func hasPuts(op *Op) bool { return hasOpOf(op, tPut) }

// hasOpOf reports whether op, or any op nested in it, has one of types.
func hasOpOf(op *Op, types ...opType) bool {
	if slices.Contains(types, op.t) {
		return true
	}
	for _, ops := range [][]Op{op.thenOps, op.elseOps} {
		for i := range ops {
			if hasOpOf(&ops[i], types...) {
				return true
			}
		}
	}
	return false
}

// applyOp applies a put, delete or txn at raft index idx. It is
// deterministic: the same state and op give the same result and changes on
// every member. A failing request changes nothing but still records idx.
func applyOp(kv *mvcc.Store, idx uint64, op *Op) *applyResult {
	tw := kv.Write(idx)
	var res *applyResult
	switch op.t {
	case tPut:
		res = applyTopPut(tw, op)
	case tDeleteRange:
		res = &applyResult{resp: OpResponse{del: execDelete(tw, op)}}
	case tTxn:
		res = applyTxn(tw, kv, op)
	case tRange:
		r, err := execRange(tw, op)
		res = &applyResult{resp: OpResponse{get: r}, err: err}
	default:
		res = &applyResult{err: ErrCorruptCommand}
	}
	tw.End()
	if res.err == nil {
		// After End the store is at the revision this txn created, or at
		// the current one if it changed nothing.
		setRevision(res.resp, kv.Rev())
	}
	return res
}

// putResult is a top-level put's result, response and header in one
// allocation: every member applies every put.
type putResult struct {
	res applyResult
	put PutResponse
	hdr ResponseHeader
}

func applyTopPut(tw *mvcc.TxnWrite, op *Op) *applyResult {
	if err := checkPut(tw, op); err != nil {
		return &applyResult{err: err}
	}
	a := &putResult{}
	a.put.Header = &a.hdr
	if err := execPutInto(tw, op, &a.put); err != nil {
		return &applyResult{err: err}
	}
	a.res.resp.put = &a.put
	return &a.res
}

func execPut(tw *mvcc.TxnWrite, op *Op) (*PutResponse, error) {
	r := &PutResponse{Header: &ResponseHeader{}}
	if err := execPutInto(tw, op, r); err != nil {
		return nil, err
	}
	return r, nil
}

// execPutInto applies op (a put) and fills r, whose Header is set.
func execPutInto(tw *mvcc.TxnWrite, op *Op, r *PutResponse) error {
	val, lease := op.val, int64(op.leaseID)
	var prev *KeyValue
	if op.prevKV || op.ignoreValue || op.ignoreLease {
		var err error
		if prev, err = getOne(tw, op.key); err != nil {
			return err
		}
	}
	if prev != nil {
		if op.ignoreValue {
			val = prev.Value
		}
		if op.ignoreLease {
			lease = prev.Lease
		}
	}
	tw.Put(op.key, val, lease)
	if op.prevKV {
		r.PrevKv = prev
	}
	return nil
}

func execDelete(tw *mvcc.TxnWrite, op *Op) *DeleteResponse {
	r := &DeleteResponse{Header: &ResponseHeader{}}
	if op.prevKV {
		rr, err := tw.Range(op.key, op.end, mvcc.RangeOptions{})
		if err == nil {
			r.PrevKvs = rr.KVs
		}
	}
	r.Deleted = tw.DeleteRange(op.key, op.end)
	return r
}

func applyTxn(tw *mvcc.TxnWrite, kv *mvcc.Store, op *Op) *applyResult {
	p, err := computePath(tw, op)
	if err == nil {
		err = checkPath(tw, kv, op, p)
	}
	if err != nil {
		return &applyResult{err: err}
	}
	r, err := execTxn(tw, tw, op, p)
	return &applyResult{resp: OpResponse{txn: r}, err: err}
}

// execTxn runs the chosen branch of op, reading through r and writing
// through tw; reads see the txn's earlier writes. tw is nil for a txn
// without writes.
func execTxn(r reader, tw *mvcc.TxnWrite, op *Op, p *txnPath) (*TxnResponse, error) {
	resp := &TxnResponse{Header: &ResponseHeader{}, Succeeded: p.succeeded}
	next := 0
	branch := p.branch(op)
	resp.Responses = make([]OpResponse, 0, len(branch))
	for i := range branch {
		sub := &branch[i]
		var or OpResponse
		switch sub.t {
		case tRange:
			g, err := execRange(r, sub)
			if err != nil {
				return nil, err
			}
			or.get = g
		case tPut:
			pr, err := execPut(tw, sub)
			if err != nil {
				return nil, err
			}
			or.put = pr
		case tDeleteRange:
			or.del = execDelete(tw, sub)
		case tTxn:
			t, err := execTxn(r, tw, sub, p.children[next])
			if err != nil {
				return nil, err
			}
			next++
			or.txn = t
		}
		resp.Responses = append(resp.Responses, or)
	}
	return resp, nil
}

// setRevision sets the header revision of r and of every nested response.
func setRevision(r OpResponse, rev int64) {
	forEachHeader(r, func(h *ResponseHeader) { h.Revision = rev })
}

// forEachHeader calls fn on the header of r and of every nested response.
func forEachHeader(r OpResponse, fn func(*ResponseHeader)) {
	switch {
	case r.put != nil:
		fn(r.put.Header)
	case r.get != nil:
		fn(r.get.Header)
	case r.del != nil:
		fn(r.del.Header)
	case r.txn != nil:
		fn(r.txn.Header)
		for _, sub := range r.txn.Responses {
			forEachHeader(sub, fn)
		}
	}
}
