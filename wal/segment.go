package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// entryLoc locates one entry frame in a segment file.
type entryLoc struct {
	off int64  // offset of the frame header
	n   uint32 // payload length
}

// segment is an open segment file and the in-memory offset index of its
// live entries (locs[i] is the entry with index meta.Base+i). Guarded by
// WAL.mu; the file handle itself is safe for concurrent ReadAt.
type segment struct {
	meta     segMeta
	name     string // base name inside the directory
	f        File
	locs     []entryLoc
	writeOff int64 // end of the last commit frame (append position)
	size     int64 // file size (preallocated)

	// durableOff is the offset up to which the file is known to be on
	// stable storage: the end of the last batch whose sync completed (the
	// header, for a new segment). Every commit frame records it as it was
	// when its batch was written, which is how recovery tells a torn
	// unsynced tail from damage (segment_scan.go). It only grows: batches
	// are only appended, and a segment is sealed rather than rewritten.
	// Set after a sync under WAL.mu; StoreLogs reads it without mu.
	durableOff atomic.Int64

	// cache holds the newest entries stored since the segment was opened,
	// in index order, in a ring: cacheN entries from position cacheHead
	// (len(cache) is 0 or a power of two), the oldest of index cacheFirst;
	// cacheBytes is the sum of their encoded sizes (see cacheLogs). The
	// entries are copies of the raft.Log values StoreLogs was given; their
	// Data and Extensions are the caller's, which StoreLogs' contract says
	// are never modified afterwards.
	cache      []raft.Log
	cacheHead  int
	cacheN     int
	cacheFirst uint64
	cacheBytes int
}

// cacheLogs records that logs (contiguous, starting right after the last
// cached entry, or anywhere when the cache is empty) were stored: it keeps
// a copy of each raft.Log value, then drops the oldest entries beyond
// budget bytes of encoded size. Dropped entries are cleared, so the cache
// stops referencing their Data. Caller holds WAL.mu.
func (s *segment) cacheLogs(logs []*raft.Log, budget int) {
	if budget <= 0 || len(logs) == 0 {
		s.dropCache()
		return
	}
	if s.cacheN > 0 && s.cacheFirst+uint64(s.cacheN) != logs[0].Index {
		s.dropCache()
	}
	if s.cacheN == 0 {
		s.cacheFirst = logs[0].Index
	}
	for _, l := range logs {
		if s.cacheN == len(s.cache) {
			s.growCache()
		}
		*s.slot(s.cacheN) = *l
		s.cacheN++
		s.cacheBytes += entrySize(l)
		for s.cacheBytes > budget {
			old := s.slot(0)
			s.cacheBytes -= entrySize(old)
			*old = raft.Log{}
			s.cacheHead = (s.cacheHead + 1) & (len(s.cache) - 1)
			s.cacheN--
			s.cacheFirst++
		}
	}
}

// slot is the ring's i-th entry from the oldest (i < len(s.cache)).
func (s *segment) slot(i int) *raft.Log { return &s.cache[(s.cacheHead+i)&(len(s.cache)-1)] }

// growCache doubles the ring (at least 64 entries), oldest entry first.
func (s *segment) growCache() {
	next := make([]raft.Log, max(64, 2*len(s.cache)))
	for i := range s.cacheN {
		next[i] = *s.slot(i)
	}
	s.cache, s.cacheHead = next, 0
}

// dropCache empties the cache. Caller holds WAL.mu.
func (s *segment) dropCache() {
	s.cache, s.cacheHead, s.cacheN, s.cacheFirst, s.cacheBytes = nil, 0, 0, 0, 0
}

// cached returns the entry of index if the cache holds it. Caller holds
// WAL.mu.
func (s *segment) cached(index uint64) (raft.Log, bool) {
	if index < s.cacheFirst || index-s.cacheFirst >= uint64(s.cacheN) {
		return raft.Log{}, false
	}
	return *s.slot(int(index - s.cacheFirst)), true
}

func segName(id uint64) string { return fmt.Sprintf("%016x.seg", id) }

// parseSegName returns the ID of a segment file name.
func parseSegName(name string) (uint64, bool) {
	var id uint64
	if len(name) != 20 || filepath.Ext(name) != ".seg" {
		return 0, false
	}
	if _, err := fmt.Sscanf(name, "%016x.seg", &id); err != nil || segName(id) != name {
		return 0, false
	}
	return id, true
}

// count is the number of live entries.
func (s *segment) count() uint64 { return uint64(len(s.locs)) }

// last is the index of the last live entry (Base-1 when empty).
func (s *segment) last() uint64 { return s.meta.Base + s.count() - 1 }

// writeZeros writes zeros to f over [from, to) in chunks of up to 1 MiB,
// calling afterChunk (if not nil) with the end offset of each chunk; an
// error from it stops the writing.
func writeZeros(f File, from, to int64, afterChunk func(end int64) error) error {
	const chunk = 1 << 20
	zeros := make([]byte, min(chunk, max(to-from, 0)))
	for off := from; off < to; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), to-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		if afterChunk != nil {
			if err := afterChunk(off + n); err != nil {
				return err
			}
		}
	}
	return nil
}

// createSegment creates and preallocates a new segment file (header, then
// zeros up to size), syncs it and the directory.
func createSegment(fsys FS, dir string, id, base uint64, size int64, noSync bool) (*segment, error) {
	name := segName(id)
	f, err := fsys.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*segment, error) {
		_ = f.Close()
		return nil, err
	}
	if _, err := f.WriteAt(encodeSegHeader(id, base), 0); err != nil {
		return fail(err)
	}
	// Write real zeros rather than leaving a sparse file, so later appends
	// do not allocate blocks (a cheaper fdatasync) and the unwritten region
	// reads as zeros, which recovery recognises as the end of the log.
	if err := writeZeros(f, segHeaderSize, size, nil); err != nil {
		return fail(err)
	}
	if !noSync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		if err := fsys.SyncDir(dir); err != nil {
			return fail(err)
		}
	}
	return newSegment(segMeta{ID: id, Base: base}, name, f, size), nil
}

// newSegment returns the segment of a new, empty segment file whose
// header is written (and synced, unless Config.NoSync).
func newSegment(sm segMeta, name string, f File, size int64) *segment {
	s := &segment{meta: sm, name: name, f: f, writeOff: segHeaderSize, size: size}
	s.durableOff.Store(segHeaderSize)
	return s
}
