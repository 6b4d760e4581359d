package mvcc

import (
	"maps"
	"slices"
)

// LeaseRecord is a lease as replicated state. It holds no clock: expiry
// timers and keepalives belong to the owner (Keel's leader), which turns
// an expiry into a revoke through raft.
//
// LeaseRecord is a plain value; the Store hands out copies.
type LeaseRecord struct {
	// ID is the lease ID, > 0.
	ID int64
	// TTL is the granted TTL in seconds, > 0.
	TTL int64
	// RemainingTTL is the last checkpointed remaining TTL in milliseconds
	// (see [TxnWrite.CheckpointLease]); 0 means never checkpointed.
	RemainingTTL int64
}

// leaseTable is the lease state: the lease records, and the attachments
// of live keys to leases. Attachments are derived from the live keys
// alone: key k is attached to lease L exactly when k is live and its
// current KeyValue has Lease == L (L != 0), whether or not L has a record.
// That is what Open and Restore rebuild from the key bucket, so the
// in-memory state never depends on how it was reached.
//
// leaseTable is not safe for concurrent use: the Store guards its table
// with mu, and only the write txn (holding writeMu) and Restore change it.
type leaseTable struct {
	recs map[int64]LeaseRecord
	keys map[int64]map[string]struct{}
}

func newLeaseTable() leaseTable {
	return leaseTable{recs: map[int64]LeaseRecord{}, keys: map[int64]map[string]struct{}{}}
}

// attach records that live key k carries lease id (id != 0).
func (lt *leaseTable) attach(id int64, k string) {
	set := lt.keys[id]
	if set == nil {
		set = map[string]struct{}{}
		lt.keys[id] = set
	}
	set[k] = struct{}{}
}

// detach removes k from the keys of lease id.
func (lt *leaseTable) detach(id int64, k string) {
	set := lt.keys[id]
	delete(set, k)
	if len(set) == 0 {
		delete(lt.keys, id)
	}
}

// sortedRecords returns every record sorted by ID.
func (lt *leaseTable) sortedRecords() []LeaseRecord {
	out := make([]LeaseRecord, 0, len(lt.recs))
	for _, id := range slices.Sorted(maps.Keys(lt.recs)) {
		out = append(out, lt.recs[id])
	}
	return out
}

// pendingLease is one lease record change waiting to be committed to
// bbolt: a put of rec, or a delete of id when rec is nil.
type pendingLease struct {
	id  int64
	rec *LeaseRecord
}

// Lease returns a copy of the record of lease id and whether it exists,
// as of the latest ended write txn. It never waits for a bbolt commit.
// After Close it reports the state at Close.
func (s *Store) Lease(id int64) (LeaseRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.leases.recs[id]
	return rec, ok
}

// Leases returns every lease record sorted by ID, as of the latest ended
// write txn.
func (s *Store) Leases() []LeaseRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.leases.sortedRecords()
}

// LeaseKeys returns copies of the live keys attached to lease id, sorted,
// as of the latest ended write txn (nil if none). A key is attached to the
// lease its current version was put with (see [TxnWrite.Put]).
func (s *Store) LeaseKeys(id int64) [][]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedKeys(s.leases.keys[id], nil)
}

// sortedKeys returns the keys of set, overridden by delta (true: member,
// false: not), sorted, as fresh byte slices; nil if there are none.
func sortedKeys(set map[string]struct{}, delta map[string]bool) [][]byte {
	ks := make([]string, 0, len(set)+len(delta))
	for k := range set {
		if in, ok := delta[k]; !ok || in {
			ks = append(ks, k)
		}
	}
	for k, in := range delta {
		if _, ok := set[k]; in && !ok {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		return nil
	}
	slices.Sort(ks)
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = []byte(k)
	}
	return out
}
