package mvcc

import (
	"bytes"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The shared read txn: reads that miss the overlay fetch from one bbolt
// read txn shared by every reader between two commits, as etcd's backend
// does, instead of beginning and rolling back a txn per read (which also
// contends on bbolt's txn bookkeeping). Concurrent Gets on a read-only
// txn's bucket are safe: they only read the mmap.
//
// Consistency: the committer renews the txn in the same critical section
// (mu held for writing) in which it drops the committed records from the
// overlay, so a reader holding mu sees every record either in the overlay
// or in the shared txn's view.
//
// A bbolt write txn that grows the file remaps the database when it
// commits, which waits for every open read txn, so the shared txn is
// released before every bbolt commit (updateDB: after the write txn's
// changes are made, before Commit) and renewed after it. Both happen with
// commitMu held: every bbolt write txn runs under commitMu, so no write
// txn ever commits while the shared txn is open.

// dropReadTxLocked releases the shared read txn. Caller holds mu for
// writing (or owns s exclusively).
func (s *Store) dropReadTxLocked() {
	if s.rtx != nil {
		_ = s.rtx.Rollback()
		s.rtx, s.rcur = nil, nil
	}
}

// cursorPool reuses cursors on the shared read txn's key bucket. bbolt's
// Bucket.Get makes a new cursor per call, and the cursor's stack grows by
// appending, several allocations per read; a reused cursor keeps its stack.
// A pool belongs to one shared txn: renewing the txn starts a new pool, and
// cursors returned to an old one go with it.
type cursorPool struct {
	kb   *bolt.Bucket
	pool sync.Pool // of *boltReader
}

// boltReader is a cursor and room for the bbolt key it seeks.
type boltReader struct {
	c   *bolt.Cursor
	key [markedRevBytesLen]byte
}

func (p *cursorPool) get() *boltReader {
	if r, ok := p.pool.Get().(*boltReader); ok {
		return r
	}
	return &boltReader{c: p.kb.Cursor()}
}

func (p *cursorPool) put(r *boltReader) { p.pool.Put(r) }

// value returns the value of the put record at rev, or nil if there is
// none. It is valid while the txn is open.
func (r *boltReader) value(rev revision) []byte {
	key := appendRev(r.key[:0], rev, false)
	k, v := r.c.Seek(key)
	if !bytes.Equal(k, key) {
		return nil
	}
	return v
}

// renewReadTxLocked replaces the shared read txn with one that sees the
// latest commit. Reads fall back to their own txn if it cannot begin.
// Caller holds commitMu and mu for writing (or owns s exclusively).
func (s *Store) renewReadTxLocked() {
	s.dropReadTxLocked()
	if s.closed || s.failErr != nil {
		return
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		s.lg.Warn("mvcc: shared read txn", "err", err)
		return
	}
	s.rtx, s.rcur = tx, &cursorPool{kb: tx.Bucket(bucketKey)}
	s.sizes.record(s.db, tx)
}

// updateDB runs fn in a bbolt write txn on db and commits it, releasing
// the shared read txn just before the commit (only the commit can remap);
// the caller holds commitMu and renews the txn afterwards. Until then
// readers keep the shared txn while fn runs, which for the paced committer
// is most of the commit.
func (s *Store) updateDB(db *bolt.DB, fn func(tx *bolt.Tx) error) error {
	tx, err := db.Begin(true)
	if err != nil {
		return err
	}
	defer func() {
		if tx.DB() != nil { // not committed: fn failed or panicked
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	s.mu.Lock()
	s.dropReadTxLocked()
	s.mu.Unlock()
	defer s.observeCommit(time.Now())
	return tx.Commit()
}
