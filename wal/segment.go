package wal

import (
	"fmt"
	"os"
	"path/filepath"
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

	// mem mirrors the file bytes [memOff, memOff+len(mem)), a suffix of the
	// batches written since the segment was opened (see cacheBatch). Bytes
	// below len(mem) are never written again, so entries decoded from them
	// may alias them.
	mem    []byte
	memOff int64
}

// cacheBatch records that the batch b was written at off, keeping at least
// the newest budget bytes of batches and at most twice that (a batch larger
// than budget is not kept). A new buffer is allocated when the current one is full, copying
// the part of the old one still within budget; the old buffer is left
// unchanged for any entry that still aliases it. Caller holds WAL.mu.
func (s *segment) cacheBatch(off int64, b []byte, budget int) {
	if budget <= 0 || len(b) > budget {
		s.mem, s.memOff = nil, off+int64(len(b))
		return
	}
	if s.memOff+int64(len(s.mem)) != off {
		s.mem, s.memOff = nil, off // not contiguous: start over
	}
	if len(s.mem)+len(b) > cap(s.mem) {
		keep := min(len(s.mem), budget-len(b))
		nb := make([]byte, keep, 2*budget)
		copy(nb, s.mem[len(s.mem)-keep:])
		s.memOff += int64(len(s.mem) - keep)
		s.mem = nb
	}
	s.mem = append(s.mem, b...)
}

// cached returns the payload of the entry frame at loc if mem holds it.
// Caller holds WAL.mu.
func (s *segment) cached(loc entryLoc) ([]byte, bool) {
	start := loc.off + frameHeaderSize
	end := start + int64(loc.n)
	if loc.off < s.memOff || end > s.memOff+int64(len(s.mem)) {
		return nil, false
	}
	return s.mem[start-s.memOff : end-s.memOff : end-s.memOff], true
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
	const chunk = 1 << 20
	zeros := make([]byte, min(chunk, size))
	for off := int64(segHeaderSize); off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return fail(err)
		}
	}
	if !noSync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		if err := fsys.SyncDir(dir); err != nil {
			return fail(err)
		}
	}
	return &segment{
		meta:     segMeta{ID: id, Base: base},
		name:     name,
		f:        f,
		writeOff: segHeaderSize,
		size:     size,
	}, nil
}
