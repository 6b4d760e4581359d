package mvcc

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// rangeLocked runs a Range over the view at revision curRev (the store's
// current revision, or a write txn's read revision). mu is held (read).
func (s *Store) rangeLocked(key, end []byte, ro RangeOptions, curRev int64) (*RangeResult, error) {
	rev, err := s.readRevLocked(ro.Rev, curRev)
	if err != nil {
		return nil, err
	}
	if ro.CountOnly {
		return &RangeResult{Rev: curRev, Count: s.countLocked(key, end, rev)}, nil
	}
	var revs []revision
	if len(end) == 0 {
		// A single key (the common case) is looked up without visit's
		// callback and with its revision on the stack: no allocations.
		var one [1]revision
		if ki := s.index.keyIndex(key); len(key) > 0 && ki != nil {
			if m, _, _, ok := ki.get(rev); ok {
				revs = append(one[:0], m)
			}
		}
	} else {
		s.index.visit(key, end, func(ki *keyIndex) bool {
			if m, _, _, ok := ki.get(rev); ok {
				revs = append(revs, m)
			}
			return true
		})
	}
	res := &RangeResult{Rev: curRev, Count: int64(len(revs))}
	if len(revs) == 0 {
		return res, nil
	}

	// etcd's rules (server/etcdserver/txn/range.go): with the default
	// ordering (SortNone, or SortByKey ascending) and no revision filter,
	// only the first Limit+1 keys in key order are read; a target other
	// than the key with SortNone then sorts just those, ascending. Every
	// other request reads, filters and sorts the whole range before the
	// limit applies.
	order := ro.SortOrder
	defaultOrdering := order == SortNone || (ro.SortTarget == SortByKey && order == SortAscend)
	switch {
	case ro.SortTarget != SortByKey && order == SortNone:
		order = SortAscend
	case ro.SortTarget == SortByKey && order == SortAscend:
		order = SortNone // already in key order
	}
	filtered := ro.MinModRev != 0 || ro.MaxModRev != 0 || ro.MinCreateRev != 0 || ro.MaxCreateRev != 0
	fetch := revs
	if defaultOrdering && !filtered && ro.Limit > 0 && int64(len(revs)) > ro.Limit {
		if order == SortNone {
			fetch = revs[:ro.Limit] // no need to read values that will be cut off
			res.More = true
		} else {
			fetch = revs[:ro.Limit+1]
		}
	}
	kvs, err := s.fetchLocked(fetch)
	if err != nil {
		return nil, err
	}
	if filtered {
		kvs = slices.DeleteFunc(kvs, func(kv *KeyValue) bool {
			return (ro.MaxModRev != 0 && kv.ModRevision > ro.MaxModRev) ||
				(ro.MinModRev != 0 && kv.ModRevision < ro.MinModRev) ||
				(ro.MaxCreateRev != 0 && kv.CreateRevision > ro.MaxCreateRev) ||
				(ro.MinCreateRev != 0 && kv.CreateRevision < ro.MinCreateRev)
		})
	}
	if order != SortNone {
		sortKVs(kvs, ro.SortTarget, order == SortDescend)
	}
	if ro.Limit > 0 && int64(len(kvs)) > ro.Limit {
		kvs = kvs[:ro.Limit]
		res.More = true
	}
	if ro.KeysOnly {
		for _, kv := range kvs {
			kv.Value = nil
		}
	}
	if len(kvs) > 0 {
		res.KVs = kvs
	}
	return res, nil
}

// readRevLocked returns the revision a read asking for want reads at,
// given the current revision curRev: curRev if want <= 0. mu is held.
func (s *Store) readRevLocked(want, curRev int64) (int64, error) {
	switch {
	case want > curRev:
		return 0, ErrFutureRev
	case want <= 0:
		want = curRev
	}
	if want < s.compactRev {
		return 0, ErrCompacted
	}
	return want, nil
}

// countLocked counts the keys live at rev in the range described by key
// and end, without collecting them. mu is held (read).
func (s *Store) countLocked(key, end []byte, rev int64) int64 {
	if len(end) == 0 { // as in rangeLocked: no callback, no allocation
		if ki := s.index.keyIndex(key); len(key) > 0 && ki != nil {
			if _, _, _, ok := ki.get(rev); ok {
				return 1
			}
		}
		return 0
	}
	var n int64
	s.index.visit(key, end, func(ki *keyIndex) bool {
		if _, _, _, ok := ki.get(rev); ok {
			n++
		}
		return true
	})
	return n
}

// sortKVs sorts stably (ties keep key order) by target.
func sortKVs(kvs []*KeyValue, target SortTarget, descend bool) {
	var c func(a, b *KeyValue) int
	switch target {
	case SortByVersion:
		c = func(a, b *KeyValue) int { return cmp.Compare(a.Version, b.Version) }
	case SortByCreateRevision:
		c = func(a, b *KeyValue) int { return cmp.Compare(a.CreateRevision, b.CreateRevision) }
	case SortByModRevision:
		c = func(a, b *KeyValue) int { return cmp.Compare(a.ModRevision, b.ModRevision) }
	case SortByValue:
		c = func(a, b *KeyValue) int { return bytes.Compare(a.Value, b.Value) }
	default:
		c = func(a, b *KeyValue) int { return bytes.Compare(a.Key, b.Key) }
	}
	if descend {
		asc := c
		c = func(a, b *KeyValue) int { return asc(b, a) }
	}
	slices.SortStableFunc(kvs, c)
}

// fetchLocked returns copies of the KeyValues stored at revs (see
// recordReader).
func (s *Store) fetchLocked(revs []revision) ([]*KeyValue, error) {
	kvs := make([]*KeyValue, 0, len(revs))
	r := recordReader{s: s}
	defer r.close()
	for _, rev := range revs {
		kv, rec, err := r.read(rev)
		if err != nil {
			return nil, err
		}
		if kv != nil {
			kvs = append(kvs, kv.clone())
			continue
		}
		if kv, err = decodeKeyValue(rec); err != nil {
			return nil, err
		}
		kvs = append(kvs, kv)
	}
	return kvs, nil
}

// recordReader reads the records of revisions for a reader holding mu:
// from the pending overlay, else from the shared read txn, else from a
// bbolt read txn of its own, begun on first need while mu is held (so a
// revision missing from the overlay is already committed and visible to
// it). close releases what it took.
type recordReader struct {
	s      *Store
	tx     *bolt.Tx
	kb     *bolt.Bucket
	pool   *cursorPool
	shared *boltReader
}

// read returns the overlay's KeyValue at rev (shared: the caller copies
// it), or else the encoded record, valid until close.
func (r *recordReader) read(rev revision) (*KeyValue, []byte, error) {
	if kv, ok := r.s.overlay[rev]; ok {
		return kv, nil, nil
	}
	if r.shared == nil && r.kb == nil && r.s.rcur != nil {
		r.pool = r.s.rcur // the shared read txn (store_readtx.go)
		r.shared = r.pool.get()
	}
	if r.shared == nil && r.kb == nil {
		var err error
		if r.tx, err = r.s.db.Begin(false); err != nil {
			return nil, nil, fmt.Errorf("mvcc: read: %w", err)
		}
		r.kb = r.tx.Bucket(bucketKey)
	}
	var v []byte
	if r.shared != nil {
		v = r.shared.value(rev)
	} else {
		v = r.kb.Get(revToBytes(rev, false))
	}
	if v == nil {
		return nil, nil, fmt.Errorf("%w: revision %d.%d missing from the key bucket", ErrCorruptRecord, rev.main, rev.sub)
	}
	return nil, v, nil
}

func (r *recordReader) close() {
	if r.shared != nil {
		r.pool.put(r.shared)
		r.shared = nil
	}
	if r.tx != nil {
		_ = r.tx.Rollback()
		r.tx, r.kb = nil, nil
	}
}

// fetchSharedLocked returns the KeyValue stored at rev, shared with the
// overlay if it is still there, so the caller must not modify it (a txn's
// events may share it: see TxnWrite.End).
func (s *Store) fetchSharedLocked(rev revision) (*KeyValue, error) {
	if kv, ok := s.overlay[rev]; ok {
		return kv, nil
	}
	return s.fetchOneLocked(rev)
}

// fetchOneLocked returns a copy of the KeyValue stored at rev.
func (s *Store) fetchOneLocked(rev revision) (*KeyValue, error) {
	kvs, err := s.fetchLocked([]revision{rev})
	if err != nil {
		return nil, err
	}
	return kvs[0], nil
}
