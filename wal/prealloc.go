package wal

import (
	"errors"
	"io/fs"
	"os"
)

// spareName is the file a background goroutine preallocates (zero-filled
// and synced) for the next segment, so that rotating does not write and
// sync Config.SegmentSize bytes of zeros on the write path. It is not a
// segment name, so recovery never mistakes it for one; Open removes a
// leftover spare and Close removes the current one.
const spareName = "next.seg.tmp"

// spareSyncEvery is how many bytes of the spare are written between syncs.
const spareSyncEvery = 1 << 20

// spareFile is a preallocated, synced file of size bytes of zeros.
type spareFile struct {
	f    File
	size int64
}

// spareWanted reports whether the next rotation is near enough to
// preallocate for: there is no open tail segment (the next batch starts
// one), or the tail is at least half full. Preallocating no earlier keeps a
// WAL that never fills its segment from writing (and keeping) SegmentSize
// bytes of zeros it may never use. Caller holds wmu (or has exclusive
// access).
func (w *WAL) spareWanted() bool {
	n := len(w.segs)
	if n == 0 || w.segs[n-1].meta.Sealed {
		return true
	}
	t := w.segs[n-1]
	return t.writeOff >= t.size/2
}

// kickPreallocatorIfWanted kicks the preallocator when spareWanted. Caller
// holds wmu (or has exclusive access).
func (w *WAL) kickPreallocatorIfWanted() {
	if w.spareWanted() {
		w.kickPreallocator()
	}
}

// kickPreallocator starts a goroutine that creates a spare, unless one is
// ready or being created, or Close has begun. It never blocks; the
// goroutine exits once the spare is ready, so a WAL abandoned without
// Close (a simulated crash) keeps no goroutine.
func (w *WAL) kickPreallocator() {
	w.spareMu.Lock()
	defer w.spareMu.Unlock()
	if w.spare != nil || w.spareBusy || w.spareStopped {
		return
	}
	w.spareBusy = true
	done := make(chan struct{})
	w.spareDone = done
	w.spareWG.Go(func() {
		defer close(done)
		sp, err := w.createSpare()
		if err != nil && !errors.Is(err, errSpareStopped) {
			// Rotation then creates the segment itself, as without a spare.
			w.logger.Warn("wal: preallocating the next segment", "err", err)
		}
		w.spareMu.Lock()
		w.spare, w.spareBusy = sp, false
		w.spareMu.Unlock()
	})
}

// awaitSpare waits for a spare being created, if it can hold size bytes:
// the rotation that calls it then takes the spare as soon as it is ready,
// sooner than it would create a segment of its own, and the disk is not
// asked to write and sync two segments' zeros at once (which slows the
// batches written meanwhile). A fresh WAL's first batch is such a
// rotation: Open starts a spare when there is no segment. The spare's
// goroutine never takes wmu, which the caller holds.
func (w *WAL) awaitSpare(size int64) {
	w.spareMu.Lock()
	done, busy := w.spareDone, w.spareBusy && size <= w.cfg.SegmentSize
	w.spareMu.Unlock()
	if busy {
		<-done
	}
}

// errSpareStopped reports a spare creation abandoned because Close began.
var errSpareStopped = errors.New("wal: preallocation stopped")

// createSpare writes Config.SegmentSize bytes of zeros to spareName and
// syncs it and the directory. It gives up between chunks once Close has
// begun.
func (w *WAL) createSpare() (*spareFile, error) {
	size := w.cfg.SegmentSize
	f, err := w.fs.OpenFile(w.path(spareName), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*spareFile, error) {
		_ = f.Close()
		_ = w.fs.Remove(w.path(spareName))
		return nil, err
	}
	stopped := func() bool {
		w.spareMu.Lock()
		defer w.spareMu.Unlock()
		return w.spareStopped
	}
	if stopped() {
		return fail(errSpareStopped)
	}
	err = writeZeros(f, 0, size, func(end int64) error {
		// Sync as we go: on file systems that order data before metadata
		// (ext4 data=ordered), a journal commit, such as the meta file's
		// rename at the next rotation, must first write back every dirty
		// block of newly allocated space, so a large unsynced spare would
		// stall it.
		if !w.cfg.NoSync && (end%spareSyncEvery == 0 || end == size) {
			if err := f.Sync(); err != nil {
				return err
			}
		}
		if end < size && stopped() {
			return errSpareStopped
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if !w.cfg.NoSync {
		if err := w.fs.SyncDir(w.dir); err != nil {
			return fail(err)
		}
	}
	return &spareFile{f: f, size: size}, nil
}

// takeSpare turns the spare, if one is ready and at least size bytes, into
// segment id with base index base: it renames it to the segment's name,
// writes the header and syncs the header and the directory, so the result
// is what createSegment would have made. ok is false (and err nil) when
// there is no usable spare. Caller holds wmu.
func (w *WAL) takeSpare(id, base uint64, size int64) (s *segment, ok bool, err error) {
	w.spareMu.Lock()
	sp := w.spare
	if sp != nil && sp.size >= size {
		w.spare = nil
	}
	w.spareMu.Unlock()
	if sp == nil || sp.size < size {
		return nil, false, nil
	}
	name := segName(id)
	fail := func(err error) (*segment, bool, error) {
		_ = sp.f.Close()
		_ = w.fs.Remove(w.path(name))
		return nil, true, err
	}
	if err := w.fs.Rename(w.path(spareName), w.path(name)); err != nil {
		_ = sp.f.Close()
		_ = w.fs.Remove(w.path(spareName))
		return nil, true, err
	}
	if _, err := sp.f.WriteAt(encodeSegHeader(id, base), 0); err != nil {
		return fail(err)
	}
	if !w.cfg.NoSync {
		if err := sp.f.Sync(); err != nil {
			return fail(err)
		}
		if err := w.fs.SyncDir(w.dir); err != nil {
			return fail(err)
		}
	}
	return newSegment(segMeta{ID: id, Base: base}, name, sp.f, sp.size), true, nil
}

// stopPreallocator stops preallocating, waits for a creation in progress
// (abandoned between chunks) and closes the spare, removing its file when
// remove is set. It is idempotent.
func (w *WAL) stopPreallocator(remove bool) {
	w.spareMu.Lock()
	w.spareStopped = true
	w.spareMu.Unlock()
	w.spareWG.Wait()
	w.spareMu.Lock()
	sp := w.spare
	w.spare = nil
	w.spareMu.Unlock()
	if sp == nil {
		return
	}
	_ = sp.f.Close()
	if !remove {
		return
	}
	if err := w.fs.Remove(w.path(spareName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.logger.Warn("wal: remove spare segment", "err", err)
	}
}
