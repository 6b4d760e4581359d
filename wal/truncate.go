package wal

import (
	"errors"
	"fmt"
	"io/fs"
)

// DeleteRange implements raft.LogStore. It deletes the inclusive range
// [min, max], which must cover the head of the log (log compaction after a
// snapshot), the tail (raft conflict truncation) or all of it; a range that
// would leave a hole returns ErrUnsupportedRange. Ranges outside the log and
// min > max are no-ops.
//
// Each case first rewrites the meta file atomically (the commit point) and
// only then closes and unlinks the segment files that became dead, so a
// crash at any point reopens to either the old or the new log:
//   - head: the meta records the new first index and drops the segments
//     entirely below it; entries below it in the first remaining segment
//     stay on disk but are hidden;
//   - tail: the segment holding min is sealed at min-1 in the meta (or
//     dropped if min is its first entry) and later segments are dropped;
//     new batches go to a fresh segment, so stale frames are never reused;
//   - all: the segment list is emptied and the next StoreLogs may start at
//     any index (raft stores snapshot index + 1 after a restore).
func (w *WAL) DeleteRange(min, max uint64) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.RLock()
	err := w.usableLocked()
	first, last := w.first, w.last
	w.mu.RUnlock()
	if err != nil {
		return err
	}
	if min > max || first == 0 || max < first || min > last {
		return nil
	}
	// Every written batch is made durable first, so durability is never
	// pending for entries that are about to change or be unlinked.
	if err := w.flush(); err != nil {
		return err
	}
	m := w.meta.clone()
	var keep, drop []*segment
	var sealed *segment // segment whose meta changes to sealed
	switch {
	case min <= first && max >= last:
		m.FirstIndex = 0
		m.Segs = nil
		drop = w.segs
	case min <= first:
		m.FirstIndex = max + 1
		for _, s := range w.segs {
			if s.meta.Sealed && s.meta.Last <= max {
				drop = append(drop, s)
			} else {
				keep = append(keep, s)
			}
		}
		m.Segs = m.Segs[len(drop):]
	case max >= last:
		m.Segs = m.Segs[:0]
		for _, s := range w.segs {
			switch {
			case s.last() < min:
				keep = append(keep, s)
				m.Segs = append(m.Segs, s.meta)
			case s.meta.Base < min:
				sealed = s
				keep = append(keep, s)
				m.Segs = append(m.Segs, segMeta{ID: s.meta.ID, Base: s.meta.Base, Last: min - 1, Sealed: true})
			default:
				drop = append(drop, s)
			}
		}
	default:
		return fmt.Errorf("%w: [%d, %d] inside [%d, %d]", ErrUnsupportedRange, min, max, first, last)
	}
	if err := writeMeta(w.fs, w.dir, m, w.cfg.NoSync); err != nil {
		return w.fail("write meta", err)
	}

	w.mu.Lock()
	w.meta = m
	w.segs = keep
	if sealed != nil {
		sealed.meta = m.Segs[len(m.Segs)-1]
		sealed.locs = sealed.locs[:min-sealed.meta.Base]
		sealed.dropCache()
	}
	w.recomputeBoundsLocked()
	w.mu.Unlock()

	w.removeSegmentFiles(drop)
	w.kickPreallocatorIfWanted()
	return nil
}

// removeSegmentFiles closes and unlinks segments that are no longer in the
// meta. Errors are only logged: the meta no longer references the files,
// and Open removes any orphans it finds. Caller holds wmu; the segments are
// unpublished, so no reader uses them.
func (w *WAL) removeSegmentFiles(segs []*segment) {
	if len(segs) == 0 {
		return
	}
	for _, s := range segs {
		if s.f != nil {
			_ = s.f.Close()
			s.f = nil
		}
		if err := w.fs.Remove(w.path(s.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.logger.Warn("wal: remove segment", "file", s.name, "err", err)
		}
	}
	if !w.cfg.NoSync {
		if err := w.fs.SyncDir(w.dir); err != nil {
			w.logger.Warn("wal: sync dir after remove", "err", err)
		}
	}
}
