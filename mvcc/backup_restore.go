package mvcc

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// RestoreBackup creates the database file path from a backup stream
// (see [Snapshot.WriteBackup]) for a first member of a new cluster,
// whose raft log starts empty. The data keeps every key, value, revision,
// the compaction revision and the lease records; three things that belong
// to the source cluster's raft log are reset:
//
//   - the consistent index becomes 0, so that the new log's entries, from
//     index 1, are applied;
//   - the owner state (see owner_state.go: the cluster state, the alarms)
//     is removed, so that no membership or alarm of the source cluster,
//     whose members are not the new cluster's, carries over;
//   - every lease's RemainingTTL is cleared: a restored lease counts its
//     full TTL again from when the new cluster loads it, since the time
//     that passed since the backup is unknown.
//
// The stream is written to a temporary file next to path and verified
// (ReadBackup: header, length, checksum), then the database is validated
// as Open would load it and its revisions checked against the header;
// only then are the resets committed, the file fsynced and renamed to
// path, and the directory fsynced. On any error nothing is left at path
// and the temporary file is removed. path must not exist.
//
// Errors about the stream or its database wrap ErrBadBackup.
func RestoreBackup(r io.Reader, path string) (BackupInfo, error) {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			err = fs.ErrExist
		}
		return BackupInfo{}, fmt.Errorf("mvcc: restore backup to %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".restore-*")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("mvcc: restore backup: %w", err)
	}
	tmp := f.Name()
	info, err := ReadBackup(r, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = resetBackupFile(tmp, info.BackupHeader)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		if errors.Is(err, ErrBadBackup) {
			return BackupInfo{}, err
		}
		return BackupInfo{}, fmt.Errorf("mvcc: restore backup: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return BackupInfo{}, fmt.Errorf("mvcc: restore backup: fsync directory: %w", err)
	}
	return info, nil
}

// resetBackupFile validates the database restored at path against h and
// applies RestoreBackup's resets in one fsynced bbolt transaction.
func resetBackupFile(path string, h BackupHeader) error {
	cfg, err := Config{}.withDefaults()
	if err != nil {
		return err
	}
	if err := checkBoltFile(path); err != nil {
		return fmt.Errorf("%w: %w", ErrBadBackup, err)
	}
	db, err := openBoltGuarded(path, cfg)
	if err != nil {
		return fmt.Errorf("%w: %w: %w", ErrBadBackup, ErrCorruptSnapshot, err)
	}
	err = validateBackupDB(db, h)
	if err == nil {
		err = initSchema(db) // upgrades a v1 database; a no-op for v2
	}
	if err == nil {
		err = db.Update(resetForNewCluster)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// openBoltGuarded opens path read-write, turning a fault while bbolt reads
// a damaged file that checkBoltFile let through (a forged freelist, say)
// into an error instead of a crash. In that case bbolt's file descriptor
// and mapping are not released: a leak bounded by the number of such
// files, preferred to a crash.
func openBoltGuarded(path string, cfg Config) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("bbolt panic: %v", r)
		}
	}()
	return openBolt(path, cfg, false)
}

// validateBackupDB loads db as Open would and checks its revisions
// against the header's. Errors wrap ErrBadBackup.
func validateBackupDB(db *bolt.DB, h BackupHeader) error {
	st, err := loadState(db)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadBackup, err)
	}
	if st.currentRev != h.Revision || st.compactRev != h.CompactRevision {
		return fmt.Errorf("%w: database is at revision %d compacted to %d, header says %d compacted to %d",
			ErrBadBackup, st.currentRev, st.compactRev, h.Revision, h.CompactRevision)
	}
	return nil
}

// resetForNewCluster resets the consistent index, drops the owner state
// and clears the leases' remaining TTLs (see RestoreBackup).
func resetForNewCluster(tx *bolt.Tx) error {
	mb := tx.Bucket(bucketMeta)
	if err := mb.Put(metaConsistentIndex, u64Bytes(0)); err != nil {
		return err
	}
	for _, k := range ownerMetaKeys {
		if err := mb.Delete(k); err != nil {
			return err
		}
	}
	lb := tx.Bucket(bucketLease)
	var recs []LeaseRecord
	err := lb.ForEach(func(k, v []byte) error {
		rec, err := decodeLeaseRecord(k, v)
		if err == nil && rec.RemainingTTL != 0 {
			recs = append(recs, rec)
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, rec := range recs {
		rec.RemainingTTL = 0
		if err := lb.Put(leaseKey(rec.ID), encodeLeaseValue(rec)); err != nil {
			return err
		}
	}
	return nil
}
