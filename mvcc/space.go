package mvcc

import "fmt"

// SpaceUsage returns the size of the database in bytes, up to its last
// page in use (etcd's DbSize; the file itself may be longer, by up to
// bbolt's growth step of 16 MiB), and how many of those bytes hold data
// (etcd's DbSizeInUse). The rest are free pages, left by compaction and
// by the copy-on-write of every commit, which bbolt reuses for new data
// and [Store.Defrag] gives back to the file system.
func (s *Store) SpaceUsage() (size, inUse int64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readableLocked(); err != nil {
		return 0, 0, err
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return 0, 0, fmt.Errorf("mvcc: space usage: %w", err)
	}
	size = tx.Size()
	_ = tx.Rollback()
	st := s.db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(s.db.Info().PageSize)
	return size, max(0, size-free), nil
}
