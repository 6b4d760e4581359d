package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/hashicorp/raft"
)

// Compile-time interface assertions.
var (
	_ raft.LogStore          = (*WAL)(nil)
	_ raft.MonotonicLogStore = (*WAL)(nil)
	_ raft.StableStore       = (*WAL)(nil)
)

// WAL is a segmented write-ahead log implementing raft.LogStore,
// raft.MonotonicLogStore and raft.StableStore. See the package
// documentation for the on-disk format and the crash-safety rules.
//
// A WAL is safe for concurrent use. Mutating calls (StoreLogs, DeleteRange,
// Set, SetUint64) are serialised; readers (GetLog, FirstIndex, LastIndex,
// Get, GetUint64) run concurrently with them and never wait for an fsync.
type WAL struct {
	dir    string
	cfg    Config
	fs     FS
	logger *slog.Logger

	// wmu serialises mutators. It is held across I/O; mu is only taken
	// briefly to publish the result, so readers are not blocked by fsync.
	wmu    sync.Mutex
	buf    []byte     // batch encoding buffer, guarded by wmu
	locBuf []entryLoc // a batch's frame locations, guarded by wmu

	mu     sync.RWMutex
	meta   meta       // durable state as last written to the meta file
	segs   []*segment // live segments in index order; meta.Segs mirrors them
	first  uint64     // 0 when empty
	last   uint64     // 0 when empty
	closed bool
	failed error // non-nil once fail-stopped

	// Durability (see durable.go). durable is the last index known to be
	// on stable storage (<= last); durCh is closed and replaced when it
	// grows or the WAL fails or closes. All guarded by mu.
	durable uint64
	durCh   chan struct{}

	// Deferred sync only: syncMu serialises segment syncs; kick wakes the
	// syncer goroutine, which exits when stopSync closes.
	syncMu   sync.Mutex
	kick     chan struct{}
	stopSync chan struct{}
	syncDone chan struct{}

	// Segment preallocation (prealloc.go); guarded by spareMu.
	spareMu      sync.Mutex
	spare        *spareFile
	spareBusy    bool          // a goroutine is creating the spare
	spareDone    chan struct{} // closed when that goroutine ends
	spareStopped bool          // Close has begun
	spareWG      sync.WaitGroup
}

// Open opens (or creates) the WAL in dir and recovers it: it reads the meta
// file, scans every segment to rebuild the offset index, drops a torn tail
// and removes orphaned files. It returns an error wrapping ErrCorrupt if the
// files are damaged other than by a torn tail.
func Open(dir string, cfg Config) (*WAL, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &WAL{dir: dir, cfg: cfg, fs: cfg.FS, logger: cfg.Logger, durCh: make(chan struct{})}
	if err := w.recover(); err != nil {
		w.closeFiles()
		return nil, err
	}
	w.durable = w.last // recover synced what it found
	if cfg.DeferSync {
		w.startSyncer()
	}
	w.kickPreallocatorIfWanted()
	return w, nil
}

// Close makes every written entry durable (with Config.DeferSync) and
// closes the segment files. It is idempotent; every other method returns
// ErrClosed afterwards. It stops the syncer (with DeferSync) and waits for
// a segment preallocation in progress, then removes the spare segment file.
// A WAL dropped without Close keeps no goroutine running once a
// preallocation in progress ends.
func (w *WAL) Close() error {
	w.stopPreallocator(true)
	w.stopSyncer()
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.RLock()
	closed := w.closed
	w.mu.RUnlock()
	if closed {
		return nil
	}
	ferr := w.flush()
	if errors.Is(ferr, ErrFailed) {
		ferr = nil // already reported by the call that failed
	}
	w.mu.Lock()
	w.closed = true
	w.notifyDurableLocked()
	w.mu.Unlock()
	return errors.Join(ferr, w.closeFiles())
}

// Abandon closes the WAL the way a crash would: it stops the syncer and
// the preallocation and closes the files without syncing what was written
// since the last sync (with Config.DeferSync), so a file system that then
// loses unsynced writes (a power cut) loses those batches, while one that
// keeps them (a killed process, whose writes sit in the page cache) keeps
// them for the next Open. The spare segment file is left for Open to
// remove. It exists for crash tests of code built on the WAL. Like Close it
// is idempotent, and whichever of the two runs first decides.
func (w *WAL) Abandon() error {
	w.stopPreallocator(false)
	// Closed first, so that a sync the syncer has not started yet is
	// skipped (syncPending checks) rather than run.
	w.wmu.Lock()
	w.mu.Lock()
	already := w.closed
	if !already {
		w.closed = true
		w.notifyDurableLocked()
	}
	w.mu.Unlock()
	w.wmu.Unlock()
	if already {
		return nil
	}
	w.stopSyncer()
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.closeFiles()
}

func (w *WAL) closeFiles() error {
	var errs []error
	for _, s := range w.segs {
		if s.f != nil {
			errs = append(errs, s.f.Close())
			s.f = nil
		}
	}
	return errors.Join(errs...)
}

// path joins a file name to the WAL directory.
func (w *WAL) path(name string) string { return filepath.Join(w.dir, name) }

// usableLocked returns ErrClosed or the fail-stop error: the check of
// every mutating call. Caller holds mu.
func (w *WAL) usableLocked() error {
	if w.closed {
		return ErrClosed
	}
	return w.failed
}

// readableLocked returns ErrClosed: reads keep working after a fail-stop,
// for what was acknowledged before it (every entry is re-verified by its
// CRC on read). raft panics the process when it cannot read its log, so a
// fail-stopped member must stay readable until its owner closes it.
// Caller holds mu.
func (w *WAL) readableLocked() error {
	if w.closed {
		return ErrClosed
	}
	return nil
}

// Err returns the fail-stop error (wrapping ErrFailed and the cause), or
// nil while the WAL is healthy.
func (w *WAL) Err() error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.failed
}

// fail fail-stops the WAL. Caller holds wmu or syncMu, not mu.
func (w *WAL) fail(op string, err error) error {
	ferr := fmt.Errorf("%w: %s: %w", ErrFailed, op, err)
	w.mu.Lock()
	if w.failed == nil {
		w.failed = ferr
	}
	w.notifyDurableLocked()
	w.mu.Unlock()
	w.logger.Error("wal: fail-stop", "op", op, "err", err)
	return ferr
}

// IsMonotonic implements raft.MonotonicLogStore: indexes must be contiguous.
func (w *WAL) IsMonotonic() bool { return true }

// FirstIndex implements raft.LogStore. It returns 0 for an empty log.
func (w *WAL) FirstIndex() (uint64, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.readableLocked(); err != nil {
		return 0, err
	}
	return w.first, nil
}

// LastIndex implements raft.LogStore. It returns 0 for an empty log.
func (w *WAL) LastIndex() (uint64, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.readableLocked(); err != nil {
		return 0, err
	}
	return w.last, nil
}

// GetLog implements raft.LogStore. It returns ErrNotFound
// (raft.ErrLogNotFound) for an index outside [FirstIndex, LastIndex]. The
// returned Data and Extensions must be treated as read-only: for an entry
// in the read cache (Config.ReadCacheBytes) they are the slices StoreLogs
// was given (which its caller does not modify), so they stay valid and
// unchanged indefinitely.
func (w *WAL) GetLog(index uint64, log *raft.Log) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.readableLocked(); err != nil {
		return err
	}
	if w.first == 0 || index < w.first || index > w.last {
		return ErrNotFound
	}
	s := w.findSegLocked(index)
	if l, ok := s.cached(index); ok {
		*log = l
		return nil
	}
	loc := s.locs[index-s.meta.Base]
	buf := make([]byte, frameHeaderSize+int(loc.n))
	if _, err := s.f.ReadAt(buf, loc.off); err != nil {
		return fmt.Errorf("wal: read %s at %d: %w", s.name, loc.off, err)
	}
	if !frameOK(buf, s.meta.ID, loc) {
		return corruptf(s.name, loc.off, "frame of index %d failed its check on read", index)
	}
	if err := decodeEntry(buf[frameHeaderSize:], log); err != nil || log.Index != index {
		return corruptf(s.name, loc.off, "entry of index %d does not decode", index)
	}
	return nil
}

// frameOK re-verifies an entry frame read back into buf (which starts at
// the frame header).
func frameOK(buf []byte, segID uint64, loc entryLoc) bool {
	return buf[4] == frameEntry &&
		binary.LittleEndian.Uint32(buf[8:12]) == loc.n &&
		binary.LittleEndian.Uint32(buf[0:4]) == frameCRC(segID, loc.off, buf[:frameHeaderSize], buf[frameHeaderSize:])
}

// findSegLocked returns the segment holding index, which must be live.
// The tail segment is checked first (raft reads recent entries); otherwise
// a binary search over the few segments.
func (w *WAL) findSegLocked(index uint64) *segment {
	n := len(w.segs)
	if s := w.segs[n-1]; index >= s.meta.Base {
		return s
	}
	lo, hi := 0, n-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if w.segs[mid].meta.Base <= index {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return w.segs[lo]
}
