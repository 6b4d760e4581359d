package mvcc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is a consistent, read-only view of the whole bbolt database,
// taken by [Store.Snapshot]. It holds a bbolt read transaction until Close:
// while it is open, Store.Close and Store.Restore wait for it, and a
// database growing past InitialMmapSize cannot remap.
//
// Snapshot is not safe for concurrent use, but it may be used concurrently
// with the Store (including writes).
type Snapshot struct {
	tx        *bolt.Tx
	size      int64
	ci        uint64
	closeOnce sync.Once
}

// Snapshot commits every pending change (ForceCommit) and returns a
// consistent read view of the whole database. It returns quickly; the I/O
// happens in [Snapshot.WriteTo].
func (s *Store) Snapshot() (*Snapshot, error) {
	if err := s.ForceCommit(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	if err := s.readableLocked(); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	tx, err := s.db.Begin(false)
	s.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("mvcc: snapshot: %w", err)
	}
	ci, err := metaU64(tx.Bucket(bucketMeta), metaConsistentIndex)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return &Snapshot{tx: tx, size: tx.Size(), ci: ci}, nil
}

// WriteTo streams the database file as of the snapshot to w. It may run
// concurrently with writes to the Store.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	n, err := sn.tx.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("mvcc: snapshot write: %w", err)
	}
	return n, nil
}

// Size returns the number of bytes WriteTo writes.
func (sn *Snapshot) Size() int64 { return sn.size }

// ConsistentIndex returns the raft index covered by the snapshot's data.
func (sn *Snapshot) ConsistentIndex() uint64 { return sn.ci }

// Close releases the snapshot's read transaction. It is idempotent.
func (sn *Snapshot) Close() error {
	var err error
	sn.closeOnce.Do(func() { err = sn.tx.Rollback() })
	return err
}

// Restore replaces all state with a snapshot stream produced by
// [Snapshot.WriteTo]. The stream is written to a temporary file next to the
// database and fsynced; it is then validated (it must open as bbolt, carry
// this package's schema, and every record must decode) and the key index is
// rebuilt from it. Only then is the live database closed, the file renamed
// over it, the directory fsynced and the database reopened. Pending,
// uncommitted changes are discarded; the revision, compaction revision,
// consistent index and lease records become the snapshot's, and lease
// attachments are rebuilt from its live keys.
//
// Open Snapshots keep reading the replaced database; Restore does not wait
// for them (the old file is closed once the last one is closed).
//
// Watchers survive a Restore: each continues from its next revision
// against the restored history (moved to catch-up, or canceled with a
// CompactRevision response if the restored store compacted past it). The
// done channels of pending compactions are closed.
//
// Invalid input returns an error wrapping ErrCorruptSnapshot and leaves the
// old state untouched. Restore waits for an open write txn to End.
func (s *Store) Restore(r io.Reader) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.mu.RLock()
	err := s.readableLocked()
	s.mu.RUnlock()
	if err != nil {
		return err
	}

	tmp, err := s.writeTemp(r)
	if err != nil {
		return err
	}
	st, err := s.validateFile(tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mvcc: restore: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// The new file is renamed over the live one while the old database
	// stays open: its open read txns (Snapshots being persisted, which may
	// wait on whoever called Restore) keep reading the old, now unlinked,
	// file. The old database is closed in the background once they end, so
	// Restore never waits for a Snapshot.
	if err := os.Rename(tmp, s.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mvcc: restore: rename: %w", err)
	}
	old := s.db
	s.dropReadTxLocked()
	s.retireLocked(old)
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		s.failLocked(fmt.Errorf("restore: fsync dir: %w", err))
	}
	if err := s.reopenLocked(nil, st); err != nil {
		return err
	}
	s.renewReadTxLocked()
	// Background work against the old database is stale; compaction
	// waiters are released; every watcher continues from its next revision
	// against the restored history (caught up, or canceled if compacted).
	s.restoreGen++
	s.releaseCompactWaitersLocked(func(compactWaiter) bool { return true })
	s.watch.restore(s.restoreGen, s.currentRev)
	s.kickCompactor()
	s.kickWatchSync()
	s.lg.Info("mvcc: restored snapshot", "rev", s.currentRev, "consistent_index", s.consistentIndex)
	return nil
}

// retireLocked closes a replaced database in the background, once its open
// read txns end; Close waits for it. Caller holds mu.
func (s *Store) retireLocked(db *bolt.DB) {
	s.retired.Go(func() {
		if err := db.Close(); err != nil {
			s.lg.Warn("mvcc: restore: closing the replaced database", "err", err)
		}
	})
}

// reopenLocked opens the restored database file. With st nil the old state
// is kept and cause is returned.
func (s *Store) reopenLocked(cause error, st *loadedState) error {
	db, err := openBolt(s.path, s.cfg, false)
	if err != nil {
		s.failLocked(fmt.Errorf("restore: reopen: %w", err))
		return errors.Join(cause, s.failErr)
	}
	s.db = db
	if st != nil {
		s.setStateLocked(st)
		// Upgrade a restored v1 (pre-lease) database; a no-op for v2.
		if err := initSchema(db); err != nil {
			s.failLocked(fmt.Errorf("restore: schema upgrade: %w", err))
			return s.failErr
		}
	}
	return cause
}

// writeTemp copies r into an fsynced temporary file next to the database.
func (s *Store) writeTemp(r io.Reader) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(s.path), filepath.Base(s.path)+".restore-*")
	if err != nil {
		return "", fmt.Errorf("mvcc: restore: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("mvcc: restore: writing temp file: %w", err)
	}
	return f.Name(), nil
}

// validateFile opens path read-only and rebuilds the state from it. Errors
// wrap ErrCorruptSnapshot.
func (s *Store) validateFile(path string) (*loadedState, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("%w: empty snapshot", ErrCorruptSnapshot)
	}
	if err := checkBoltFile(path); err != nil {
		return nil, err
	}
	db, err := openBolt(path, s.cfg, true)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
	}
	st, err := loadState(db)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%w: %w", ErrCorruptSnapshot, cerr)
	}
	return st, err
}
