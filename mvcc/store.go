package mvcc

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	_ io.Closer   = (*Store)(nil)
	_ io.WriterTo = (*Snapshot)(nil)
	_ io.Closer   = (*Snapshot)(nil)
)

// Store is a multi-version key-value store over a bbolt file with an
// in-memory key index. See the package documentation for the model, the
// visibility/durability protocol and the lock order.
//
// Store is safe for concurrent use by multiple goroutines. At most one write
// transaction ([Store.Write]) is open at a time; a second Write blocks until
// the first one Ends.
type Store struct {
	path string
	cfg  Config
	lg   *slog.Logger

	// writeMu is held by the open TxnWrite from Write until End, and by
	// Close and Restore. Lock order: writeMu, then commitMu, then mu.
	writeMu sync.Mutex
	// commitMu serializes bbolt commits (committer, ForceCommit, Close,
	// back-pressure in End, Restore, the switch of Defrag).
	commitMu sync.Mutex
	// rtx is the shared read txn and rcur hands out cursors on its key
	// bucket (store_readtx.go); both nil from just before a bbolt commit
	// until the txn is renewed. Guarded by mu.
	rtx  *bolt.Tx
	rcur *cursorPool
	// mu guards every field below. It is held only around in-memory work
	// and bbolt read transactions, never across a bbolt commit.
	mu sync.RWMutex

	db              *bolt.DB
	index           *treeIndex
	currentRev      int64
	compactRev      int64
	consistentIndex uint64 // index of the last ended write txn
	durableIndex    uint64 // consistent index stored in bbolt
	// overlay holds the KeyValues of puts not yet known to be committed to
	// bbolt, by revision (including those of the open write txn, which
	// readers never ask for since they read at or below currentRev).
	overlay map[revision]*KeyValue
	// commitBuf holds the bbolt keys and values of a commit; guarded by
	// commitMu (see commitBuffer).
	commitBuf []byte
	// pending holds the changes of ended txns not yet committed, in
	// revision order. Only whole txns are ever appended.
	pending []pendingRecord
	// sparePending is the array of a committed pending, reused by the next
	// commit (guarded by mu like pending).
	sparePending []pendingRecord
	// leases is the lease state as of the latest ended txn; pendingLeases
	// holds the record changes of ended txns not yet committed, in order
	// (committed together with pending, by the same bbolt transaction).
	leases        leaseTable
	pendingLeases []pendingLease
	// sizes is the database's size as of the latest commit (Size).
	sizes dbSizes
	// owner holds the owner's values (cluster state, alarms) as of the
	// latest ended txn; see owner_state.go.
	owner   [numOwnerSlots]ownerValue
	failErr error
	closed  bool

	// Compaction state (see compactor.go). compactRev is what reads check;
	// schedCompactRev is set at the End of the compacting txn and written
	// to meta by the next commit (durableSched is what bbolt holds);
	// finishedCompactRev is how far physical deletion has got.
	schedCompactRev    int64
	durableSched       int64
	finishedCompactRev int64
	compactWaiters     []compactWaiter
	// restoreGen is bumped by Restore so that background work started
	// against the old database is discarded.
	restoreGen uint64
	// defragging pauses physical compaction while Defrag copies the
	// database (defrag.go); defragSem admits one Defrag at a time (Close
	// takes it for good); defragHook, if set (tests), runs at each step.
	defragging bool
	defragSem  chan struct{}
	defragHook func(defragStep) error

	// watch is the watcher registry; it has its own lock (see watch.go).
	watch watchState

	stopc       chan struct{}
	compactKick chan struct{}
	wg          sync.WaitGroup
	retired     sync.WaitGroup // closes of databases replaced by Restore
	closeOnce   sync.Once
	closeErr    error
}

// pendingRecord is one change waiting to be committed to bbolt.
type pendingRecord struct {
	rev       revision
	tombstone bool
	kv        *KeyValue // immutable once created
}

// Open opens the bbolt file at path (creating it if missing), rebuilds the
// key index from it and starts the background committer. The current
// revision is 1 for an empty store. Open fsyncs the file's directory, so
// that a file it created (or that an earlier Open created and then
// crashed) survives a power loss.
func Open(path string, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := removeDefragTemp(path); err != nil {
		return nil, fmt.Errorf("mvcc: open %s: %w", path, err)
	}
	db, err := openBolt(path, cfg, false)
	if err != nil {
		return nil, fmt.Errorf("mvcc: open %s: %w", path, err)
	}
	if err := initSchema(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("mvcc: open %s: %w", path, err)
	}
	if !cfg.noSync {
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("mvcc: open %s: fsync directory: %w", path, err)
		}
	}
	st, err := loadState(db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("mvcc: open %s: %w", path, err)
	}
	s := &Store{
		path:        path,
		cfg:         cfg,
		lg:          cfg.Logger,
		db:          db,
		stopc:       make(chan struct{}),
		compactKick: make(chan struct{}, 1),
		defragSem:   make(chan struct{}, 1),
	}
	s.setStateLocked(st)
	s.renewReadTxLocked()
	s.watch.init(s.currentRev)
	s.lg.Debug("mvcc: opened", "path", path, "rev", s.currentRev, "consistent_index", s.consistentIndex,
		"compact_rev", s.compactRev, "finished_compact_rev", s.finishedCompactRev)
	s.wg.Add(3)
	go s.runCommitter()
	go s.runCompactor()
	go s.runWatchSync()
	s.kickCompactor() // resume an interrupted physical compaction
	return s, nil
}

// setStateLocked installs a freshly loaded state; the caller holds mu (or
// owns s exclusively).
func (s *Store) setStateLocked(st *loadedState) {
	s.index = st.index
	s.currentRev = st.currentRev
	s.compactRev = st.compactRev
	s.schedCompactRev = st.compactRev
	s.durableSched = st.compactRev
	s.finishedCompactRev = st.finishedRev
	s.consistentIndex = st.consistentIndex
	s.durableIndex = st.consistentIndex
	s.overlay = make(map[revision]*KeyValue)
	s.pending = nil
	s.leases = st.leases
	s.pendingLeases = nil
	s.loadOwnerLocked(st.owner)
}

// Close commits every pending change, stops the background committer and
// closes the bbolt file. It waits for an open write txn to End and for open
// Snapshots to be closed. It is idempotent: later calls return the first
// call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown(true) })
	return s.closeErr
}

// shutdown stops the store; commit=false simulates a crash (tests only):
// pending changes are dropped and bbolt keeps only what was committed.
func (s *Store) shutdown(commit bool) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	close(s.stopc)
	s.wg.Wait()
	s.defragSem <- struct{}{} // a running Defrag stops; later ones see stopc
	var err error
	if commit {
		err = s.commit()
	}
	s.commitMu.Lock()
	s.mu.Lock()
	s.closed = true
	s.dropReadTxLocked()
	db := s.db
	s.releaseCompactWaitersLocked(func(compactWaiter) bool { return true })
	s.mu.Unlock()
	s.commitMu.Unlock()
	s.closeAllWatchers()
	if cerr := db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("mvcc: close: %w", cerr)
	}
	s.retired.Wait() // databases replaced by Restore
	return err
}

// Rev returns the current revision: 1 for an empty store, bumped by one by
// every write txn with at least one change.
func (s *Store) Rev() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.currentRev
}

// CompactRev returns the compaction revision, 0 until a compaction happens.
func (s *Store) CompactRev() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.compactRev
}

// ConsistentIndex returns the raft index passed to the last ended write txn
// (or, right after Open or Restore, the one stored in bbolt). It is
// persisted in the same bbolt transaction as the changes it covers.
func (s *Store) ConsistentIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.consistentIndex
}

// Err returns nil, or an error wrapping ErrFailed once a bbolt commit has
// failed. The store is then fail-stopped: Range returns that error, nothing
// is committed any more, and ForceCommit, Snapshot and Close return it.
// Write still works in memory (it has no error return), but its changes are
// never made durable; the owner should stop the member.
func (s *Store) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.failErr
}

// fail records the first failure and fail-stops the store.
func (s *Store) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocked(err)
}

func (s *Store) failLocked(err error) {
	if s.failErr == nil {
		s.failErr = fmt.Errorf("%w: %w", ErrFailed, err)
		s.lg.Error("mvcc: store failed", "err", err)
		s.closeAllWatchers() // fail-stop ends every watcher (lock order mu → watch.mu)
	}
}

// readableLocked returns the error a reader gets, if any; mu is held.
func (s *Store) readableLocked() error {
	if s.closed {
		return ErrClosed
	}
	return s.failErr
}

// Range reads the keys in the range described by key and end at ro.Rev
// (latest by default). The range encoding is etcd's: end empty means the
// single key `key`; end == "\x00" means every key >= key (with key ==
// "\x00" too: all keys); otherwise [key, end) in byte order, empty when end
// <= key. Sorting, filters and Limit follow etcd's executeRange; see
// [RangeOptions]. Errors: ErrFutureRev, ErrCompacted, ErrClosed, ErrFailed.
func (s *Store) Range(key, end []byte, ro RangeOptions) (*RangeResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readableLocked(); err != nil {
		return nil, err
	}
	return s.rangeLocked(key, end, ro, s.currentRev)
}

// maxCommitBuffer is the largest commit buffer kept between commits.
const maxCommitBuffer = 4 << 20

// commitBuffer returns an empty buffer with room for the bbolt keys and
// values of batch, reused between commits (bbolt needs them only until its
// txn ends). Caller holds commitMu.
func (s *Store) commitBuffer(batch []pendingRecord) []byte {
	need := 0
	for _, r := range batch {
		need += markedRevBytesLen + encodedKeyValueMax(r.kv)
	}
	if cap(s.commitBuf) < need {
		// With headroom: batches vary in size, and a buffer sized exactly
		// would be replaced by almost every commit under steady load.
		s.commitBuf = make([]byte, 0, need+need/2)
	}
	b := s.commitBuf[:0]
	if cap(s.commitBuf) > maxCommitBuffer {
		s.commitBuf = nil // used this once, not kept
	}
	return b
}

// runCommitter commits pending changes every CommitInterval until Close.
func (s *Store) runCommitter() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-t.C:
			_ = s.commitPaced(true) // a failure is recorded and logged by commit
		}
	}
}

// ForceCommit synchronously commits every pending change, with the
// consistent index, to bbolt (with fsync).
func (s *Store) ForceCommit() error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return s.commit()
}

// commitPace and commitPause pace the background committer: after every
// commitPace key records it writes into the bbolt txn, it sleeps for
// commitPause. Building the txn is a burst of CPU (a bbolt Put is a cursor
// seek and an insert, ~1 µs); on a machine with few cores the burst takes
// a core from the goroutines on the write path (raft, the FSM, proposers,
// watchers) for milliseconds, and their latency jumps. A sleep parks the
// committer, so its P runs those goroutines first; runtime.Gosched would
// not: it queues the committer on the global run queue, from which the
// same P takes it straight back. The pauses lengthen a commit by a few
// milliseconds per 10,000 records; a commit stops pausing once it has run
// for a quarter of CommitInterval (a sleep can oversleep on a busy
// machine), so pacing never makes commits fall behind.
const (
	commitPace  = 32
	commitPause = 20 * time.Microsecond
)

// commit writes the pending changes (key records and lease records) of
// ended txns and their consistent index in one bbolt transaction, then
// drops them from the overlay.
func (s *Store) commit() error { return s.commitPaced(false) }

// commitPaced is commit, pausing while it builds the bbolt txn when paced
// (see commitPace): the background committer paces, while a commit
// something waits for (back-pressure, ForceCommit, Close, compaction) does
// not.
func (s *Store) commitPaced(paced bool) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()

	s.mu.RLock()
	if s.failErr != nil || s.closed {
		err := s.failErr
		if err == nil {
			err = ErrClosed
		}
		s.mu.RUnlock()
		return err
	}
	db := s.db
	batch := s.pending[:len(s.pending):len(s.pending)]
	leaseBatch := s.pendingLeases[:len(s.pendingLeases):len(s.pendingLeases)]
	ci := s.consistentIndex
	sched := s.schedCompactRev
	owner := s.owner
	dirty := len(batch) > 0 || len(leaseBatch) > 0 || ci != s.durableIndex || sched != s.durableSched
	for _, v := range owner {
		dirty = dirty || v.dirty
	}
	s.mu.RUnlock()
	if !dirty {
		return nil
	}

	err := s.updateDB(db, func(tx *bolt.Tx) error {
		kb := tx.Bucket(bucketKey)
		kb.FillPercent = 0.9 // revisions are appended in order
		buf := s.commitBuffer(batch)
		start := time.Now()
		for i, r := range batch {
			if paced && i > 0 && i%commitPace == 0 && time.Since(start) < s.cfg.CommitInterval/4 {
				time.Sleep(commitPause)
			}
			k := len(buf)
			buf = appendRev(buf, r.rev, r.tombstone)
			v := len(buf)
			buf = appendKeyValue(buf, r.kv)
			// The slices stay valid until the txn ends: buf has room for
			// the whole batch, so it is never reallocated here.
			if err := kb.Put(buf[k:v:v], buf[v:len(buf):len(buf)]); err != nil {
				return err
			}
		}
		lb := tx.Bucket(bucketLease)
		for _, l := range leaseBatch {
			var err error
			if l.rec == nil {
				err = lb.Delete(leaseKey(l.id))
			} else {
				err = lb.Put(leaseKey(l.id), encodeLeaseValue(*l.rec))
			}
			if err != nil {
				return err
			}
		}
		mb := tx.Bucket(bucketMeta)
		if err := mb.Put(metaCompactRev, u64Bytes(uint64(sched))); err != nil {
			return err
		}
		if err := putDirtyOwner(mb, &owner); err != nil {
			return err
		}
		return mb.Put(metaConsistentIndex, u64Bytes(ci))
	})

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failLocked(fmt.Errorf("bbolt commit: %w", err))
		return s.failErr
	}
	for _, r := range batch {
		delete(s.overlay, r.rev)
	}
	// Keep the committed array for the next round (double buffering):
	// nothing else holds it once commit is done with batch.
	next := append(s.sparePending[:0], s.pending[len(batch):]...)
	clear(s.pending[:cap(s.pending)])
	s.sparePending, s.pending = s.pending[:0], next
	s.pendingLeases = append([]pendingLease(nil), s.pendingLeases[len(leaseBatch):]...)
	s.durableIndex = ci
	s.durableSched = sched
	s.committedOwnerLocked(&owner)
	s.renewReadTxLocked()
	return nil
}
