package mvcc

import "fmt"

// TxnWrite is the single exclusive write transaction of a Store, begun by
// [Store.Write]. Its changes share one main revision ([TxnWrite.Rev]), with
// sub-revisions 0, 1, 2, … in change order, and become visible to other
// readers only at [TxnWrite.End], all at once, together with its lease
// changes (GrantLease, CheckpointLease, RevokeLease, and the attachments
// moved by Put and deletes).
//
// TxnWrite is not safe for concurrent use: one goroutine (the FSM) drives
// it and must call End exactly once.
type TxnWrite struct {
	s        *Store
	index    uint64
	beginRev int64
	changes  []pendingRecord
	events   []Event
	err      error // ErrClosed when begun on a closed store: the txn is inert
	ended    bool
	// compactTo is the revision this txn compacted to (0: none).
	compactTo int64
	// compactDone is closed when the physical deletion has finished.
	compactDone chan struct{}
	// owner holds the owner values this txn set (SetClusterState,
	// SetAlarms).
	owner ownerWrites
	// leaseRecs holds the lease records this txn granted, checkpointed
	// (the new record) or revoked (nil), applied to the Store at End.
	leaseRecs map[int64]*LeaseRecord
	// leaseAttach holds, per lease, the keys whose attachment this txn
	// changed: true attached, false detached.
	leaseAttach map[int64]map[string]bool

	// The first change and event of a txn go here, without an allocation
	// (most txns make one change).
	change1 [1]pendingRecord
	event1  [1]Event
}

// Write begins the write transaction for raft log entry index. It blocks
// while another write txn is open. The caller must call End exactly once.
//
// On a closed store the returned txn is inert: Put and DeleteRange do
// nothing, Range returns ErrClosed and End returns nil. On a failed store
// (see [Store.Err]) the txn still applies in memory.
func (s *Store) Write(index uint64) *TxnWrite {
	s.writeMu.Lock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := &TxnWrite{s: s, index: index, beginRev: s.currentRev}
	t.changes, t.events = t.change1[:0], t.event1[:0]
	if s.closed {
		t.err = ErrClosed
	}
	return t
}

// Rev returns the revision this txn's changes get: the revision at begin
// plus one.
func (t *TxnWrite) Rev() int64 { return t.beginRev + 1 }

// readRev is the revision this txn reads at: it sees its own changes.
func (t *TxnWrite) readRev() int64 {
	if len(t.changes) > 0 {
		return t.beginRev + 1
	}
	return t.beginRev
}

func (t *TxnWrite) checkOpen() {
	if t.ended {
		panic("mvcc: TxnWrite used after End")
	}
}

// Range is [Store.Range] over this txn's view: it sees the txn's earlier
// Puts and Deletes (it reads at Rev() once there are changes, as etcd does),
// and RangeResult.Rev is that read revision.
func (t *TxnWrite) Range(key, end []byte, ro RangeOptions) (*RangeResult, error) {
	t.checkOpen()
	if t.err != nil {
		return nil, t.err
	}
	s := t.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readableLocked(); err != nil {
		return nil, err
	}
	return s.rangeLocked(key, end, ro, t.readRev())
}

// Put records a put of key with value and lease (0 = none). key and value
// are copied. The version is the previous live version's plus one (1 for a
// create, with CreateRevision = Rev()). Putting one key several times in a
// txn makes several changes.
//
// The key is attached to lease (see [Store.LeaseKeys]) and detached from
// the lease of its previous version, if different. Put does not check
// that the lease is granted: the owner validates it first (Keel returns
// ErrLeaseNotFound before calling Put). A key put with an unknown lease is
// still listed by LeaseKeys for that ID and is deleted if a lease with
// that ID is later granted and revoked.
func (t *TxnWrite) Put(key, value []byte, lease int64) {
	t.checkOpen()
	if t.err != nil {
		return
	}
	s := t.s
	rev := t.Rev()

	// Read the previous version under the read lock: only this txn mutates
	// the index, so it cannot change before the write lock below.
	var prev *KeyValue
	var readErr error
	created, ver := rev, int64(1)
	s.mu.RLock()
	ki := s.index.keyIndex(key)
	if ki != nil {
		if m, c, v, ok := ki.get(rev); ok {
			created, ver = c.main, v+1
			prev, readErr = s.fetchSharedLocked(m)
		}
	}
	s.mu.RUnlock()
	if readErr != nil {
		s.fail(fmt.Errorf("put %q: reading previous version: %w", key, readErr))
	}

	kv := &KeyValue{
		Value:          cloneBytes(value),
		CreateRevision: created,
		ModRevision:    rev,
		Version:        ver,
		Lease:          lease,
	}
	if kv.Value == nil {
		kv.Value = []byte{}
	}
	r := revision{main: rev, sub: int64(len(t.changes))}
	s.mu.Lock()
	if ki == nil {
		ki = s.index.create(key)
	}
	if err := ki.put(r); err != nil {
		panic(fmt.Sprintf("mvcc: broken index invariant: %v", err))
	}
	// The index's copy of the key never changes, and neither does an
	// overlay KeyValue: they can share it.
	kv.Key = ki.key()
	s.overlay[r] = kv
	s.mu.Unlock()

	t.changes = append(t.changes, pendingRecord{rev: r, kv: kv})
	t.events = append(t.events, Event{Type: EventTypePut, Kv: kv, PrevKv: prev})
	var prevLease int64
	if prev != nil {
		prevLease = prev.Lease
	}
	t.moveLease(key, prevLease, lease)
}

// DeleteRange deletes the live keys in the range described by key and end
// (same encoding as [Store.Range]) and returns how many it deleted. Each
// deletion is a change (a tombstone); keys that are already deleted are not
// counted and make no change. Deleted keys are detached from their lease.
func (t *TxnWrite) DeleteRange(key, end []byte) int64 {
	t.checkOpen()
	if t.err != nil {
		return 0
	}
	return t.deleteVisited(func(fn func(ki *keyIndex) bool) { t.s.index.visit(key, end, fn) })
}

// deleteVisited deletes, in visit order, the keys visit hands to its
// callback that are live, and returns how many it deleted. visit runs
// with mu held (read).
func (t *TxnWrite) deleteVisited(visit func(fn func(ki *keyIndex) bool)) int64 {
	s := t.s
	rev := t.Rev()

	type victim struct {
		ki   *keyIndex
		prev *KeyValue
	}
	var victims []victim
	var readErr error
	s.mu.RLock()
	visit(func(ki *keyIndex) bool {
		m, _, _, ok := ki.get(rev)
		if !ok {
			return true
		}
		prev, err := s.fetchSharedLocked(m)
		if err != nil {
			readErr = fmt.Errorf("delete %q: reading previous version: %w", ki.key(), err)
			prev = &KeyValue{Key: cloneBytes(ki.key()), ModRevision: m.main}
		}
		victims = append(victims, victim{ki: ki, prev: prev})
		return true
	})
	s.mu.RUnlock()
	if readErr != nil {
		s.fail(readErr)
	}
	if len(victims) == 0 {
		return 0
	}

	s.mu.Lock()
	for _, v := range victims {
		r := revision{main: rev, sub: int64(len(t.changes))}
		if err := v.ki.tombstone(r); err != nil {
			s.mu.Unlock()
			panic(fmt.Sprintf("mvcc: broken index invariant: %v", err))
		}
		t.changes = append(t.changes, pendingRecord{rev: r, tombstone: true, kv: &KeyValue{Key: v.ki.key()}})
		t.events = append(t.events, Event{
			Type:   EventTypeDelete,
			Kv:     &KeyValue{Key: cloneBytes(v.ki.key()), ModRevision: rev},
			PrevKv: v.prev,
		})
	}
	s.mu.Unlock()
	for _, v := range victims {
		t.moveLease(v.ki.key(), v.prev.Lease, 0)
	}
	return int64(len(victims))
}

// End makes the txn's changes (and its lease changes) visible to readers
// at once, bumps the revision iff there was at least one change, records
// the txn's raft index as the consistent index, and returns the txn's
// events in change order (PrevKv filled). The returned events share their
// KeyValues with the store and must not be modified; watchers get copies. It does not fsync: the changes are committed to bbolt,
// with the consistent index, by the background committer, or synchronously
// here when CommitLimit changes are pending (back-pressure).
func (t *TxnWrite) End() []Event {
	t.checkOpen()
	t.ended = true
	s := t.s
	defer s.writeMu.Unlock()
	if t.err != nil {
		return nil
	}
	s.mu.Lock()
	if len(t.changes) > 0 {
		s.currentRev = t.Rev()
		s.pending = append(s.pending, t.changes...)
	}
	t.applyLeasesLocked()
	t.endOwnerLocked()
	s.consistentIndex = t.index
	if t.compactTo > 0 {
		// Persisted by the next commit together with this txn's index.
		s.schedCompactRev = t.compactTo
		s.compactWaiters = append(s.compactWaiters, compactWaiter{rev: t.compactTo, done: t.compactDone})
	}
	backPressure := len(s.pending)+len(s.pendingLeases) >= s.cfg.CommitLimit
	s.mu.Unlock()
	if len(t.changes) > 0 {
		// After the revision is visible, still under writeMu, so revisions
		// are notified in order.
		s.notify(t.Rev(), t.events)
	}
	if len(t.events) == 0 {
		t.events = nil
	}
	if t.compactTo > 0 {
		s.kickCompactor()
		s.kickWatchSync() // cancel the watchers now behind the compaction
	}
	if backPressure {
		_ = s.commit() // a failure is recorded in Err
	}
	return t.events
}
