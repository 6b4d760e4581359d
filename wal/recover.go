package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// recover loads the meta file and the segments. Called once by Open.
func (w *WAL) recover() error {
	if err := w.fs.MkdirAll(w.dir, 0o755); err != nil {
		return fmt.Errorf("wal: create dir: %w", err)
	}
	names, err := w.fs.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("wal: read dir: %w", err)
	}
	hasMeta := false
	onDisk := map[uint64]string{}
	for _, n := range names {
		switch {
		case n == metaName:
			hasMeta = true
		case n == metaTmpName, n == spareName:
			// An interrupted meta write (the rename never happened), or
			// the preallocated next segment of the last run.
			if err := w.fs.Remove(w.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("wal: remove %s: %w", n, err)
			}
		default:
			if id, ok := parseSegName(n); ok {
				onDisk[id] = n
			}
		}
	}
	if !hasMeta {
		if len(onDisk) > 0 {
			return corruptf(metaName, 0, "missing, but %d segment files exist", len(onDisk))
		}
		m := meta{NextSegID: 1, KV: map[string][]byte{}, KVInt: map[string]uint64{}}
		if err := writeMeta(w.fs, w.dir, m, w.cfg.NoSync); err != nil {
			return fmt.Errorf("wal: create meta: %w", err)
		}
		w.meta = m
		return nil
	}
	b, err := readFile(w.fs, w.path(metaName))
	if err != nil {
		return fmt.Errorf("wal: read meta: %w", err)
	}
	m, err := decodeMeta(b)
	if err != nil {
		return corruptf(metaName, 0, "%v", err)
	}
	w.meta = m

	sr := newSegReader(scanWindow) // one window buffer for all segments
	for _, sm := range m.Segs {
		if err := w.openSegment(sm, sr); err != nil {
			return err
		}
		delete(onDisk, sm.ID)
	}
	// Files not in the meta were being created or deleted when the process
	// stopped; the meta is the commit point, so they hold nothing live.
	for _, n := range onDisk {
		w.logger.Info("wal: removing orphaned segment", "file", n)
		if err := w.fs.Remove(w.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("wal: remove orphan %s: %w", n, err)
		}
	}
	if err := w.syncRecovered(); err != nil {
		return err
	}
	return w.finishRecovery()
}

// openSegment opens and scans one segment listed in the meta, reading it
// through sr.
func (w *WAL) openSegment(sm segMeta, sr *segReader) error {
	name := segName(sm.ID)
	f, err := w.fs.OpenFile(w.path(name), os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return corruptf(name, 0, "segment listed in meta is missing")
		}
		return fmt.Errorf("wal: open %s: %w", name, err)
	}
	s := &segment{meta: sm, name: name, f: f}
	w.segs = append(w.segs, s) // closed by Open on error
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("wal: stat %s: %w", name, err)
	}
	res, err := sr.scanSegmentFile(f, size, name, sm)
	if err != nil {
		return err
	}
	s.locs, s.writeOff, s.size = res.locs, res.writeOff, size
	s.durableOff.Store(res.durable)
	if sm.Sealed {
		return nil
	}
	switch {
	case res.dirty:
		w.logger.Warn("wal: dropped torn tail", "file", name, "offset", res.writeOff, "last_index", sm.Base+uint64(len(res.locs))-1)
	case res.version != segVersion:
		w.logger.Info("wal: sealing a tail segment of an older format", "file", name, "version", res.version)
	default:
		return nil
	}
	// Never append after torn bytes, nor to a segment of another format:
	// seal the segment (or drop it if it has no complete batch) so new
	// batches go to a fresh file.
	s.meta.Last = sm.Base + uint64(len(res.locs)) - 1
	s.meta.Sealed = true
	return nil
}

// finishRecovery persists the sealing of a torn (or format 1) tail segment
// and computes first and last.
func (w *WAL) finishRecovery() error {
	if n := len(w.segs); n > 0 {
		t := w.segs[n-1]
		if t.meta.Sealed && !w.meta.Segs[n-1].Sealed {
			m := w.meta.clone()
			if t.count() == 0 {
				m.Segs = m.Segs[:n-1]
			} else {
				m.Segs[n-1] = t.meta
			}
			if err := writeMeta(w.fs, w.dir, m, w.cfg.NoSync); err != nil {
				return fmt.Errorf("wal: seal torn segment: %w", err)
			}
			w.meta = m
			if t.count() == 0 {
				_ = t.f.Close()
				w.segs = w.segs[:n-1]
				if err := w.fs.Remove(w.path(t.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("wal: remove %s: %w", t.name, err)
				}
			}
		}
	}
	if n := len(w.segs); n > 0 && w.meta.FirstIndex != 0 {
		if last := w.segs[n-1].last(); last >= w.segs[0].meta.Base && w.meta.FirstIndex > last {
			return corruptf(metaName, 0, "first index %d is beyond the end of the log %d", w.meta.FirstIndex, last)
		}
	}
	w.recomputeBoundsLocked()
	return nil
}

// recomputeBoundsLocked derives first and last from the segments and the
// head boundary. Caller holds mu (or has exclusive access).
func (w *WAL) recomputeBoundsLocked() {
	w.first, w.last = 0, 0
	if len(w.segs) == 0 {
		w.durable = 0
		return
	}
	first := w.segs[0].meta.Base
	if w.meta.FirstIndex > first {
		first = w.meta.FirstIndex
	}
	last := w.segs[len(w.segs)-1].last()
	if last < first {
		w.durable = 0
		return // all hidden or no entries yet
	}
	w.first, w.last = first, last
	if w.durable > last {
		w.durable = last
	}
}
