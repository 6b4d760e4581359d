package wal

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"
)

// StoreLog implements raft.LogStore; it is StoreLogs with one entry.
func (w *WAL) StoreLog(log *raft.Log) error {
	return w.StoreLogs([]*raft.Log{log})
}

// StoreLogs implements raft.LogStore. It appends the batch as entry frames
// followed by one commit frame with a single write, then syncs once (group
// commit). When it returns nil the batch is durable (unless Config.NoSync),
// or with Config.DeferSync written and queued for the background sync
// (unless Config.DeferWhen says not to defer).
//
// The WAL keeps the logs' Data and Extensions for its read cache
// (Config.ReadCacheBytes) and returns them from GetLog: the caller must not
// modify them after StoreLogs, as raft never does (raft's own LogCache
// keeps them the same way).
//
// Indexes must be contiguous: logs[0].Index must be LastIndex()+1 unless the
// log is empty, and each entry must follow the previous one; otherwise
// ErrOutOfOrder is returned and nothing is written. A failed write or sync
// fail-stops the WAL (ErrFailed).
func (w *WAL) StoreLogs(logs []*raft.Log) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.RLock()
	err := w.usableLocked()
	last := w.last
	w.mu.RUnlock()
	if err != nil {
		return err
	}
	if len(logs) == 0 {
		return nil
	}
	first := logs[0].Index
	if first == 0 || (last != 0 && first != last+1) {
		return fmt.Errorf("%w: batch starts at %d, last index is %d", ErrOutOfOrder, first, last)
	}
	size := int64(commitFrameSize)
	for i, l := range logs {
		if l.Index != first+uint64(i) {
			return fmt.Errorf("%w: entry %d of the batch has index %d, want %d", ErrOutOfOrder, i, l.Index, first+uint64(i))
		}
		n := entrySize(l)
		if n > MaxEntrySize {
			return fmt.Errorf("%w: index %d encodes to %d bytes, limit %d", ErrTooLarge, l.Index, n, MaxEntrySize)
		}
		size += frameSize(n)
	}

	s, err := w.segmentFor(first, size)
	if err != nil {
		return err
	}
	start := s.writeOff
	buf := w.buf[:0]
	locs := w.locBuf[:0]
	for _, l := range logs {
		off := start + int64(len(buf))
		locs = append(locs, entryLoc{off: off, n: uint32(entrySize(l))})
		buf = appendFrame(buf, s.meta.ID, off, frameEntry, func(b []byte) []byte { return appendEntry(b, l) })
	}
	// The commit records what was durable before this batch: without
	// DeferSync the previous batch's sync has returned; with it, what the
	// background sync has covered so far.
	buf = appendCommit(buf, s.meta.ID, start+int64(len(buf)), first, uint64(len(logs)), start, s.durableOff.Load())
	if cap(buf) <= 4<<20 {
		w.buf = buf
	}
	if cap(locs) <= 1<<16 {
		w.locBuf = locs // copied into s.locs below; reused by the next batch
	}
	if _, err := s.f.WriteAt(buf, start); err != nil {
		return w.fail("write "+s.name, err)
	}
	if w.cfg.DeferSync {
		w.mu.Lock()
		s.locs = append(s.locs, locs...)
		s.cacheLogs(logs, w.cfg.ReadCacheBytes)
		s.writeOff = start + int64(len(buf))
		w.recomputeBoundsLocked()
		w.mu.Unlock()
		w.kickPreallocatorIfWanted()
		w.kickSyncer()
		if w.cfg.DeferWhen != nil && !w.cfg.DeferWhen() {
			return w.waitSynced(logs[len(logs)-1].Index)
		}
		return nil
	}
	end := start + int64(len(buf))
	if !w.cfg.NoSync {
		if err := w.syncEntries(s); err != nil {
			return w.fail("sync "+s.name, err)
		}
		s.durableOff.Store(end) // only StoreLogs writes it without DeferSync
	}

	w.mu.Lock()
	s.locs = append(s.locs, locs...)
	s.cacheLogs(logs, w.cfg.ReadCacheBytes)
	s.writeOff = end
	w.recomputeBoundsLocked()
	w.setDurableLocked(w.last)
	w.mu.Unlock()
	w.kickPreallocatorIfWanted()
	return nil
}

// waitSynced waits until index is durable: for the background sync, or,
// once Close has stopped the syncer, by syncing here. Caller holds wmu, so
// the syncer cannot be stopped while it waits (stopSyncer takes wmu).
func (w *WAL) waitSynced(index uint64) error {
	select {
	case <-w.stopSync:
		return w.syncPending()
	default:
	}
	return w.WaitDurable(context.Background(), index)
}

// segmentFor returns the segment a batch of size bytes starting at index
// first is appended to, rotating to a new segment when the tail is sealed,
// missing, too full, or empty with a different base. Caller holds wmu.
func (w *WAL) segmentFor(first uint64, size int64) (*segment, error) {
	var tail *segment
	if n := len(w.segs); n > 0 && !w.segs[n-1].meta.Sealed {
		tail = w.segs[n-1]
	}
	if tail != nil && tail.writeOff+size <= tail.size && (tail.count() > 0 || tail.meta.Base == first) {
		return tail, nil
	}

	// Batches in the tail must be durable before it is sealed: the syncer
	// only ever syncs the newest segment.
	if err := w.flush(); err != nil {
		return nil, err
	}
	m := w.meta.clone()
	var drop *segment
	if tail != nil {
		if tail.count() == 0 {
			drop = tail
			m.Segs = m.Segs[:len(m.Segs)-1]
		} else {
			m.Segs[len(m.Segs)-1].Sealed = true
			m.Segs[len(m.Segs)-1].Last = tail.last()
		}
	}
	id := m.NextSegID
	m.NextSegID++
	segSize := max(w.cfg.SegmentSize, segHeaderSize+size)
	w.awaitSpare(segSize)
	ns, ok, err := w.takeSpare(id, first, segSize)
	if !ok {
		ns, err = createSegment(w.fs, w.dir, id, first, segSize, w.cfg.NoSync)
	}
	if err != nil {
		return nil, w.fail("create segment", err)
	}
	m.Segs = append(m.Segs, ns.meta)
	if err := writeMeta(w.fs, w.dir, m, w.cfg.NoSync); err != nil {
		_ = ns.f.Close()
		return nil, w.fail("write meta", err)
	}

	w.mu.Lock()
	w.meta = m
	if tail != nil && drop == nil {
		tail.meta = m.Segs[len(m.Segs)-2]
		tail.dropCache() // only the newest segment keeps a read cache
	}
	if drop != nil {
		w.segs = w.segs[:len(w.segs)-1]
	}
	w.segs = append(w.segs, ns)
	w.mu.Unlock()

	if drop != nil {
		w.removeSegmentFiles([]*segment{drop})
	}
	return ns, nil
}
