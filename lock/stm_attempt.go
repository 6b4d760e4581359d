package lock

import (
	"context"
	"slices"

	"github.com/keeldb/keel"
)

// stm is the STM of one NewSTM call. Its state is that of the current
// attempt, except prefetch, which carries reads from a failed commit to
// the next attempt.
type stm struct {
	client keel.Client
	ctx    context.Context
	iso    Isolation

	// rset holds the response of every key read in this attempt.
	rset map[string]*keel.GetResponse
	// wset holds the value and operation of every key written in this
	// attempt.
	wset map[string]stmWrite
	// snapRev is the revision of the attempt's first read, which pins the
	// later ones at the serializable levels; 0 before the first read.
	snapRev int64
	// prefetch holds the keys of the last failed attempt's read set, as
	// read by its commit (serializable levels only): the next attempt reads
	// them from here, and its snapshot is their revision.
	prefetch map[string]*keel.GetResponse
}

type stmWrite struct {
	val string
	op  keel.Op
}

// stmAbort carries a failed read through apply (whose STM methods have no
// error result) to NewSTM, as a panic.
type stmAbort struct {
	s   *stm
	err error
}

func (s *stm) abort(err error) { panic(stmAbort{s: s, err: err}) }

func (s *stm) reset() {
	s.rset = make(map[string]*keel.GetResponse)
	s.wset = make(map[string]stmWrite)
	s.snapRev = 0
}

func (s *stm) serializable() bool { return s.iso == SerializableSnapshot || s.iso == Serializable }

func (s *stm) Get(keys ...string) string {
	if len(keys) == 0 {
		return ""
	}
	if w, ok := s.wset[keys[0]]; ok {
		return w.val
	}
	s.read(keys, func(k string) bool { _, written := s.wset[k]; return !written })
	return valueOf(s.rset[keys[0]])
}

func (s *stm) Put(key, val string, opts ...keel.OpOption) {
	s.wset[key] = stmWrite{val: val, op: keel.OpPut(key, val, opts...)}
}

func (s *stm) Del(key string) { s.wset[key] = stmWrite{op: keel.OpDelete(key)} }

func (s *stm) Rev(key string) int64 {
	s.read([]string{key}, nil)
	if r := s.rset[key]; len(r.Kvs) > 0 {
		return r.Kvs[0].ModRevision
	}
	return 0
}

// read puts into the read set every key of keys that is not there yet
// and that want accepts (nil: all): first from prefetch, then from the
// store in one read-only transaction. At the serializable levels the
// first read of an attempt defines its snapshot revision, and later ones
// are served at it.
func (s *stm) read(keys []string, want func(string) bool) {
	var missing []string
	for _, k := range keys {
		if _, ok := s.rset[k]; ok || (want != nil && !want(k)) || slices.Contains(missing, k) {
			continue
		}
		if r, ok := s.prefetch[k]; ok {
			delete(s.prefetch, k)
			s.add(k, r)
			continue
		}
		missing = append(missing, k)
	}
	if len(missing) == 0 {
		return
	}
	var opts []keel.OpOption
	switch {
	case !s.serializable():
		opts = []keel.OpOption{keel.WithSerializable()}
	case s.snapRev != 0:
		opts = []keel.OpOption{keel.WithRev(s.snapRev), keel.WithSerializable()}
	}
	ops := make([]keel.Op, len(missing))
	for i, k := range missing {
		ops[i] = keel.OpGet(k, opts...)
	}
	if err := s.ctx.Err(); err != nil {
		s.abort(err)
	}
	resp, err := s.client.Txn(s.ctx).Then(ops...).Commit()
	if err != nil {
		s.abort(err)
	}
	for i, k := range missing {
		s.add(k, rangeResp(resp, i))
	}
}

func (s *stm) add(k string, r *keel.GetResponse) {
	s.rset[k] = r
	if s.snapRev == 0 {
		s.snapRev = r.Header.Revision
	}
}

// conflicts returns the compares that must hold for the attempt to
// commit at its isolation level.
func (s *stm) conflicts() []keel.Cmp {
	if s.iso == ReadCommitted {
		return nil
	}
	var cmps []keel.Cmp
	for _, k := range sortedKeys(s.rset) {
		var rev int64 // an absent key must still be absent
		if r := s.rset[k]; len(r.Kvs) > 0 {
			rev = r.Kvs[0].ModRevision
		}
		cmps = append(cmps, keel.Compare(keel.ModRevision(k), "=", rev))
	}
	if s.iso == SerializableSnapshot && s.snapRev != 0 {
		// Without reads there is no snapshot, and nothing to check the
		// writes against.
		for _, k := range sortedKeys(s.wset) {
			cmps = append(cmps, keel.Compare(keel.ModRevision(k), "<", s.snapRev+1))
		}
	}
	return cmps
}

// commit applies the attempt's writes if its conflict checks hold. It
// returns nil and no error when they do not, for another attempt; at the
// serializable levels the failed transaction reads the read set again,
// for that attempt to start from.
func (s *stm) commit() (*keel.TxnResponse, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	wkeys := sortedKeys(s.wset)
	writes := make([]keel.Op, len(wkeys))
	for i, k := range wkeys {
		writes[i] = s.wset[k].op
	}
	txn := s.client.Txn(s.ctx).If(s.conflicts()...).Then(writes...)
	var rkeys []string
	if s.serializable() {
		rkeys = sortedKeys(s.rset)
		gets := make([]keel.Op, len(rkeys))
		for i, k := range rkeys {
			gets[i] = keel.OpGet(k)
		}
		txn = txn.Else(gets...)
	}
	resp, err := txn.Commit()
	if err != nil {
		return nil, err
	}
	if resp.Succeeded {
		return resp, nil
	}
	s.prefetch = make(map[string]*keel.GetResponse, len(rkeys))
	for i, k := range rkeys {
		s.prefetch[k] = rangeResp(resp, i)
	}
	return nil, nil
}

func valueOf(r *keel.GetResponse) string {
	if r == nil || len(r.Kvs) == 0 {
		return ""
	}
	return string(r.Kvs[0].Value)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
