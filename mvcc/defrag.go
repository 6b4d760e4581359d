package mvcc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Online defragmentation (Store.Defrag). The database is copied into a
// new, compact file next to it while the store keeps serving, and the
// copy is switched in at the end:
//
//  1. Start: under commitMu, physical compaction is paused (so that the
//     key bucket, keyed by revision, only ever gains records above the
//     ones already there: commits append, nothing deletes) and the
//     database is noted.
//  2. Copy: the key bucket is copied in revision order, a chunk of at most
//     defragChunkBytes per pair of bbolt transactions (a short read txn on
//     the live database, a write txn on the copy), with no lock held.
//     Commits go on meanwhile; each chunk resumes after the last revision
//     copied, so the records they add are picked up by later chunks. The
//     copy is fsynced as it goes (every defragSyncBytes), and catch-up
//     passes are repeated until a pass finds at most defragSwitchRecords
//     new records.
//  3. Switch: with commitMu held (no bbolt commit can start; reads and
//     write txns go on, since neither waits for commitMu unless
//     CommitLimit changes are pending), the last records are copied, the
//     other buckets (meta, lease, and any other) are copied whole, the
//     copy is fsynced and closed, renamed over the database, the
//     directory is fsynced, and the copy is opened and swapped in under
//     mu, as Restore swaps a restored file. The replaced database is
//     closed once its open read txns (Snapshots) end.
//
// Crash safety: until the rename the database file is untouched; the
// copy is complete and fsynced before the rename, which is atomic, so
// after a crash the path holds either the old file or the new one, each
// a complete database as of the same bbolt commit. Open removes a copy
// left behind (defragTempSuffix).

const (
	// defragTempSuffix names the copy: the database path plus this.
	defragTempSuffix = ".defrag"
	// defragChunkBytes bounds the key and value bytes copied per chunk
	// (one read txn on the live database, one write txn on the copy).
	defragChunkBytes = 8 << 20
	// defragSyncBytes is how much is copied between fsyncs of the copy,
	// so that the final fsync (in the switch) has little left to write.
	defragSyncBytes = 64 << 20
	// defragSwitchRecords: once a catch-up pass copies at most this many
	// records, the switch follows (it copies what came meanwhile).
	defragSwitchRecords = 2000
	// defragMaxCatchUp bounds the catch-up passes; a store written faster
	// than it can be copied then switches anyway, with a longer pause.
	defragMaxCatchUp = 8
	// defragRestarts bounds how often Defrag starts over because a
	// Restore replaced the database under it.
	defragRestarts = 3
)

// DefragStats describes one defragmentation.
type DefragStats struct {
	// SizeBefore and SizeAfter are the database file's sizes in bytes.
	SizeBefore, SizeAfter int64
	// Records is the number of key records copied.
	Records int64
	// Duration is the wall time of the whole defragmentation.
	Duration time.Duration
	// Pause is how long the final switch held bbolt commits: write txns
	// that End meanwhile are visible at once as always, but one that
	// leaves CommitLimit changes pending waits for the switch to end
	// (back-pressure), as does ForceCommit (and Snapshot).
	Pause time.Duration
	// SwitchRecords is the number of key records copied during the
	// switch (a part of Records).
	SwitchRecords int64
}

// Defrag rewrites the database file compactly and gives the space freed
// by compaction back to the file system. It runs while the store serves:
// reads never wait for it, and bbolt commits are held only for the final
// switch (see [DefragStats].Pause), which a write txn waits for only if it
// leaves CommitLimit changes pending. Physical compaction is paused while
// it runs and resumes afterwards.
//
// Defrag calls run one at a time: a call waits for a running one to finish
// (or for ctx to end), then defragments. When ctx ends before the switch,
// Defrag stops, removes its copy and returns an error wrapping ctx.Err();
// the database is untouched. Once the switch has begun it runs to the end.
// A Restore that replaces the database meanwhile makes Defrag start over.
// Close waits for a running Defrag, which then returns ErrClosed.
//
// Errors: ErrClosed, ErrFailed (the store has failed, or an fsync of the
// directory or the reopening of the file failed after the copy was renamed
// over the database, which fail-stops the store), ctx's error, or the
// file system's error while copying (the database is then untouched).
func (s *Store) Defrag(ctx context.Context) (DefragStats, error) {
	select {
	case s.defragSem <- struct{}{}:
	case <-ctx.Done():
		return DefragStats{}, fmt.Errorf("mvcc: defrag: %w", ctx.Err())
	case <-s.stopc:
		return DefragStats{}, ErrClosed
	}
	defer func() { <-s.defragSem }()
	select {
	case <-s.stopc:
		return DefragStats{}, ErrClosed
	default:
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		st, err := s.defragOnce(ctx)
		if errors.Is(err, errDefragRestored) && attempt < defragRestarts {
			s.lg.Info("mvcc: defrag: the database was restored meanwhile; starting over")
			continue
		}
		st.Duration = time.Since(start)
		return st, err
	}
}

// errDefragRestored reports that a Restore replaced the database while a
// defragmentation copied it.
var errDefragRestored = errors.New("mvcc: defrag: the database was replaced by a restore")

// defragRun is one defragmentation's state.
type defragRun struct {
	s     *Store
	src   *bolt.DB // the live database when the run began
	dst   *bolt.DB // the copy
	tmp   string
	gen   uint64 // restoreGen when the run began
	last  []byte // the last key record copied (nil: none yet)
	since int64  // bytes copied since the copy was last fsynced
	st    DefragStats
}

// defragOnce runs one defragmentation.
func (s *Store) defragOnce(ctx context.Context) (DefragStats, error) {
	r := &defragRun{s: s, tmp: s.path + defragTempSuffix}
	switched := false
	defer func() {
		if !switched {
			r.abort()
		}
	}()
	if err := r.begin(); err != nil {
		return r.st, err
	}
	if err := r.copyLive(ctx); err != nil {
		return r.st, err
	}
	switched = true
	return r.st, r.switchOver(ctx)
}

// begin pauses physical compaction, notes the live database and creates
// the copy.
func (r *defragRun) begin() error {
	s := r.s
	s.commitMu.Lock()
	s.mu.Lock()
	err := s.readableLocked()
	if err == nil {
		// Physical compaction deletes from the key bucket under
		// commitMu; from here on it does nothing until the flag clears.
		s.defragging = true
		r.src, r.gen = s.db, s.restoreGen
	}
	s.mu.Unlock()
	s.commitMu.Unlock()
	if err != nil {
		return err
	}
	if r.st.SizeBefore, err = fileSize(s.path); err != nil {
		return r.fail(err)
	}
	if err := os.Remove(r.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return r.fail(err)
	}
	// No fsync per commit: the copy is fsynced every defragSyncBytes and
	// before the rename. NoGrowSync also leaves the file at its data's
	// length instead of growing it in AllocSize steps.
	r.dst, err = bolt.Open(r.tmp, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: true, NoGrowSync: true})
	if err != nil {
		return r.fail(err)
	}
	return r.fail(r.dst.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(bucketKey)
		return err
	}))
}

// fail wraps a copy error (nil stays nil).
func (r *defragRun) fail(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("mvcc: defrag: %w", err)
}

// abort removes the copy and resumes physical compaction; the live
// database is untouched.
func (r *defragRun) abort() {
	s := r.s
	if r.dst != nil {
		_ = r.dst.Close()
	}
	if err := os.Remove(r.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.lg.Warn("mvcc: defrag: removing the copy", "path", r.tmp, "err", err)
	}
	s.endDefrag()
}

// endDefrag clears the flag that pauses physical compaction and wakes the
// compactor.
func (s *Store) endDefrag() {
	s.mu.Lock()
	s.defragging = false
	s.mu.Unlock()
	s.kickCompactor()
}

// check returns why the run must stop, if it must: the store closed or
// failed, ctx ended, or a Restore replaced the database.
func (r *defragRun) check(ctx context.Context) error {
	s := r.s
	select {
	case <-s.stopc:
		return ErrClosed
	default:
	}
	s.mu.RLock()
	err := s.failErr
	restored := s.restoreGen != r.gen
	s.mu.RUnlock()
	switch {
	case err != nil:
		return err
	case restored:
		return errDefragRestored
	case ctx.Err() != nil:
		return fmt.Errorf("mvcc: defrag: %w", ctx.Err())
	}
	return nil
}

// switchOver copies what remains with commits held, and swaps the copy in
// for the live database. It always ends the run: on an error before the
// rename the copy is removed and the database is untouched; after it the
// store is fail-stopped on error.
func (r *defragRun) switchOver(ctx context.Context) error {
	s := r.s
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	held := time.Now()
	renamed := false
	defer func() {
		r.st.Pause = time.Since(held)
		if !renamed {
			r.abort()
		} else {
			s.endDefrag()
		}
	}()
	if err := r.check(ctx); err != nil {
		return err
	}
	if err := s.defragStep(defragStepLocked); err != nil {
		return r.fail(err)
	}
	// No commit runs now: the live database is stable.
	n, err := r.copyToEnd(nil)
	r.st.SwitchRecords = n
	if err != nil {
		return err
	}
	if err := r.copyOtherBuckets(); err != nil {
		return r.fail(err)
	}
	copied := time.Now()
	if err := r.sync(); err != nil {
		return err
	}
	synced := time.Now()
	defer func() {
		s.lg.Debug("mvcc: defrag switch", "records", n, "copy", copied.Sub(held),
			"fsync", synced.Sub(copied), "rename_reopen", time.Since(synced))
	}()
	err = r.dst.Close()
	r.dst = nil
	if err != nil {
		return r.fail(err)
	}
	if err := s.defragStep(defragStepSynced); err != nil {
		return r.fail(err)
	}
	if err := os.Rename(r.tmp, s.path); err != nil {
		return r.fail(err)
	}
	renamed = true
	_ = s.defragStep(defragStepRenamed) // too late to stop: crash tests only
	return r.swap()
}

// swap fsyncs the directory and opens the renamed copy in place of the
// live database. Caller holds commitMu.
func (r *defragRun) swap() error {
	s := r.s
	var errs []error
	if !s.cfg.noSync {
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			errs = append(errs, fmt.Errorf("fsync dir: %w", err))
		}
	}
	db, err := openBolt(s.path, s.cfg, false)
	if err != nil {
		errs = append(errs, fmt.Errorf("reopen: %w", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if db != nil {
		old := s.db
		s.dropReadTxLocked()
		s.db = db
		s.retireLocked(old) // once Snapshots reading it are closed
		s.renewReadTxLocked()
	}
	if len(errs) > 0 {
		// The path may hold either file after a crash: stop before a
		// commit lands in one of them only.
		s.failLocked(fmt.Errorf("defrag: %w", errors.Join(errs...)))
		return s.failErr
	}
	if size, err := fileSize(s.path); err == nil {
		r.st.SizeAfter = size
	}
	return nil
}

// removeDefragTemp removes a copy left behind by a defragmentation that
// crashed before its rename (Open).
func removeDefragTemp(path string) error {
	err := os.Remove(path + defragTempSuffix)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// fileSize returns the size of the file at path.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Steps of a defragmentation at which tests observe or stop it
// (Store.defragHook).
type defragStep int

const (
	// defragStepCopied: the first pass has copied the key bucket; no lock
	// is held. An error stops the run.
	defragStepCopied defragStep = iota + 1
	// defragStepLocked: the switch holds commitMu, nothing copied yet. An
	// error stops the run.
	defragStepLocked
	// defragStepSynced: the copy is complete, fsynced and closed, not yet
	// renamed. An error stops the run.
	defragStepSynced
	// defragStepRenamed: the copy was renamed over the database, the
	// directory is not fsynced yet. Errors are ignored.
	defragStepRenamed
)

// defragStep runs the test hook, if any.
func (s *Store) defragStep(step defragStep) error {
	if s.defragHook == nil {
		return nil
	}
	return s.defragHook(step)
}
