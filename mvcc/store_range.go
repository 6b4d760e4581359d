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
	rev := ro.Rev
	if rev > curRev {
		return nil, ErrFutureRev
	}
	if rev <= 0 {
		rev = curRev
	}
	if rev < s.compactRev {
		return nil, ErrCompacted
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
	if ro.CountOnly || len(revs) == 0 {
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

// fetchLocked returns copies of the KeyValues stored at revs, looking in the
// pending overlay first and otherwise in a bbolt read transaction opened
// while mu is held (so a revision missing from the overlay is already
// committed and visible to that transaction).
func (s *Store) fetchLocked(revs []revision) ([]*KeyValue, error) {
	kvs := make([]*KeyValue, 0, len(revs))
	var tx *bolt.Tx
	var kb *bolt.Bucket
	var pool *cursorPool
	var shared *boltReader
	defer func() {
		if shared != nil {
			pool.put(shared)
		}
		if tx != nil {
			_ = tx.Rollback()
		}
	}()
	for _, rev := range revs {
		if kv, ok := s.overlay[rev]; ok {
			kvs = append(kvs, kv.clone())
			continue
		}
		if shared == nil && kb == nil && s.rcur != nil {
			pool = s.rcur // the shared read txn (store_readtx.go)
			shared = pool.get()
		}
		if shared == nil && kb == nil {
			var err error
			if tx, err = s.db.Begin(false); err != nil {
				return nil, fmt.Errorf("mvcc: read: %w", err)
			}
			kb = tx.Bucket(bucketKey)
		}
		var v []byte
		if shared != nil {
			v = shared.value(rev)
		} else {
			v = kb.Get(revToBytes(rev, false))
		}
		if v == nil {
			return nil, fmt.Errorf("%w: revision %d.%d missing from the key bucket", ErrCorruptRecord, rev.main, rev.sub)
		}
		kv, err := decodeKeyValue(v)
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, kv)
	}
	return kvs, nil
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
