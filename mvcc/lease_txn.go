package mvcc

import (
	"fmt"
	"maps"
	"slices"
)

// GrantLease records a new lease id with the granted ttl (seconds) in this
// write txn. It is not a change: it does not bump the revision by itself,
// but the record is persisted by the same bbolt commit as this txn's
// consistent index. Other readers see it from End on.
//
// Errors: ErrInvalidLease for id <= 0 or ttl <= 0, ErrLeaseExists if id is
// already granted (as seen by this txn), ErrClosed on an inert txn. On
// error nothing changes.
func (t *TxnWrite) GrantLease(id, ttl int64) error {
	t.checkOpen()
	if t.err != nil {
		return t.err
	}
	if id <= 0 || ttl <= 0 {
		return fmt.Errorf("%w: id %d, ttl %d", ErrInvalidLease, id, ttl)
	}
	if _, ok := t.Lease(id); ok {
		return fmt.Errorf("%w: %d", ErrLeaseExists, id)
	}
	t.setLease(id, &LeaseRecord{ID: id, TTL: ttl})
	return nil
}

// RevokeLease deletes every live key attached to lease id, as changes of
// this txn in sorted key order (so they share this txn's revision and are
// delete events with PrevKv, delivered to a watcher in one response), and
// then the lease record. It returns the number of keys deleted. Revoking a
// lease without keys makes no change and does not bump the revision, but
// the record's removal is persisted with this txn's consistent index.
//
// Errors: ErrLeaseNotFound if id is not granted (as seen by this txn),
// ErrClosed on an inert txn. On error nothing changes.
func (t *TxnWrite) RevokeLease(id int64) (deleted int64, err error) {
	t.checkOpen()
	if t.err != nil {
		return 0, t.err
	}
	if _, ok := t.Lease(id); !ok {
		return 0, fmt.Errorf("%w: %d", ErrLeaseNotFound, id)
	}
	keys := t.LeaseKeys(id)
	deleted = t.deleteVisited(func(fn func(ki *keyIndex) bool) {
		for _, k := range keys {
			if ki := t.s.index.keyIndex(k); ki != nil && !fn(ki) {
				return
			}
		}
	})
	t.setLease(id, nil)
	return deleted, nil
}

// CheckpointLease sets the RemainingTTL (milliseconds) of lease id in this
// txn; 0 means "not checkpointed" (the owner then uses the full TTL). Like
// GrantLease it is not a change and does not bump the revision.
//
// Errors: ErrInvalidLease for remainingMillis < 0, ErrLeaseNotFound if id
// is not granted (the owner ignores that deterministically), ErrClosed on
// an inert txn. On error nothing changes.
func (t *TxnWrite) CheckpointLease(id, remainingMillis int64) error {
	t.checkOpen()
	if t.err != nil {
		return t.err
	}
	if remainingMillis < 0 {
		return fmt.Errorf("%w: remaining TTL %dms", ErrInvalidLease, remainingMillis)
	}
	rec, ok := t.Lease(id)
	if !ok {
		return fmt.Errorf("%w: %d", ErrLeaseNotFound, id)
	}
	rec.RemainingTTL = remainingMillis
	t.setLease(id, &rec)
	return nil
}

// Lease is [Store.Lease] seen from inside this txn: it includes the txn's
// own grants, checkpoints and revokes. On an inert txn it reports false.
func (t *TxnWrite) Lease(id int64) (LeaseRecord, bool) {
	t.checkOpen()
	if t.err != nil {
		return LeaseRecord{}, false
	}
	if rec, ok := t.leaseRecs[id]; ok {
		if rec == nil {
			return LeaseRecord{}, false
		}
		return *rec, true
	}
	return t.s.Lease(id)
}

// LeaseKeys is [Store.LeaseKeys] seen from inside this txn: it includes the
// attachments made and removed by the txn's own Puts and deletes.
func (t *TxnWrite) LeaseKeys(id int64) [][]byte {
	t.checkOpen()
	if t.err != nil {
		return nil
	}
	s := t.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedKeys(s.leases.keys[id], t.leaseAttach[id])
}

// setLease stages rec (nil: removal) as the record of lease id.
func (t *TxnWrite) setLease(id int64, rec *LeaseRecord) {
	if t.leaseRecs == nil {
		t.leaseRecs = map[int64]*LeaseRecord{}
	}
	t.leaseRecs[id] = rec
}

// moveLease stages the move of key from lease from to lease to (0: none),
// after a Put or a delete of key.
func (t *TxnWrite) moveLease(key []byte, from, to int64) {
	if from == to {
		return
	}
	if t.leaseAttach == nil {
		t.leaseAttach = map[int64]map[string]bool{}
	}
	mark := func(id int64, in bool) {
		if id == 0 {
			return
		}
		m := t.leaseAttach[id]
		if m == nil {
			m = map[string]bool{}
			t.leaseAttach[id] = m
		}
		m[string(key)] = in
	}
	mark(from, false)
	mark(to, true)
}

// applyLeasesLocked applies the txn's staged lease changes to the Store's
// table and queues the record changes for the next bbolt commit, in ID
// order. mu is held (write), in End's critical section.
func (t *TxnWrite) applyLeasesLocked() {
	s := t.s
	for id, m := range t.leaseAttach {
		for k, in := range m {
			if in {
				s.leases.attach(id, k)
			} else {
				s.leases.detach(id, k)
			}
		}
	}
	if len(t.leaseRecs) == 0 {
		return // sorting no IDs still allocates
	}
	for _, id := range slices.Sorted(maps.Keys(t.leaseRecs)) {
		rec := t.leaseRecs[id]
		if rec == nil {
			delete(s.leases.recs, id)
		} else {
			s.leases.recs[id] = *rec
		}
		s.pendingLeases = append(s.pendingLeases, pendingLease{id: id, rec: rec})
	}
}
