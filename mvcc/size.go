package mvcc

import (
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// dbSizes is the database's size and the part of it in use, as of the
// latest bbolt commit (recorded whenever the shared read txn is renewed,
// which follows every commit, compaction batch, Restore and Open).
type dbSizes struct {
	size  atomic.Int64
	inUse atomic.Int64
}

// record notes the sizes seen by tx, a read txn on db begun after its
// latest commit.
func (d *dbSizes) record(db *bolt.DB, tx *bolt.Tx) {
	size := tx.Size()
	// bbolt counts the freelist's pages when it loads it and whenever a
	// write txn closes, so they describe the same commit as tx. (Its
	// FreeAlloc is only set by a write txn, so not right after Open.)
	st := db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(db.Info().PageSize)
	d.size.Store(size)
	d.inUse.Store(max(size-free, 0))
}

// Size returns the size of the database, in bytes, and the part of it in
// use, as of the latest bbolt commit: size is what bbolt has allocated in
// its file (its high-water mark, the size etcd reports as DbSize; the file
// itself may be preallocated beyond it), and inUse excludes the pages on
// bbolt's freelist, free or pending release by older read transactions.
// Compaction lowers inUse as it deletes records; only rewriting the file
// (defragmentation) lowers size. It never blocks on a commit.
func (s *Store) Size() (size, inUse int64) {
	return s.sizes.size.Load(), s.sizes.inUse.Load()
}
