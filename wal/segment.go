package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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

	// cache holds copies of the newest batches written since the segment
	// was opened, contiguous and in file order, cacheBytes in all (see
	// cacheBatch). A copy is never written again, so entries decoded from
	// it may alias it.
	cache      []cachedBatch
	cacheBytes int
}

// cachedBatch is a copy of the batch written at file offset off.
type cachedBatch struct {
	off int64
	b   []byte
}

// cacheBatch records that the batch b was written at off: it keeps a copy
// and drops the oldest copies beyond budget bytes (a batch larger than
// budget is not kept). Dropped copies are left to the garbage collector,
// never reused, so an entry that still aliases one stays unchanged.
// Caller holds WAL.mu.
func (s *segment) cacheBatch(off int64, b []byte, budget int) {
	if n := len(s.cache); budget <= 0 || len(b) > budget || (n > 0 && s.cache[n-1].off+int64(len(s.cache[n-1].b)) != off) {
		s.dropCache()
		if budget <= 0 || len(b) > budget {
			return
		}
	}
	s.cache = append(s.cache, cachedBatch{off: off, b: bytes.Clone(b)})
	s.cacheBytes += len(b)
	for s.cacheBytes > budget {
		s.cacheBytes -= len(s.cache[0].b)
		s.cache[0] = cachedBatch{}
		s.cache = s.cache[1:]
	}
}

// dropCache empties the cache. Caller holds WAL.mu.
func (s *segment) dropCache() { s.cache, s.cacheBytes = nil, 0 }

// cached returns the payload of the entry frame at loc if the cache holds
// it. Caller holds WAL.mu.
func (s *segment) cached(loc entryLoc) ([]byte, bool) {
	// The first batch that ends after the frame starts is the only one
	// that can hold it (batches are contiguous).
	i := sort.Search(len(s.cache), func(i int) bool { return s.cache[i].off+int64(len(s.cache[i].b)) > loc.off })
	if i == len(s.cache) || loc.off < s.cache[i].off {
		return nil, false
	}
	c := s.cache[i]
	start := loc.off - c.off + frameHeaderSize
	end := start + int64(loc.n)
	if end > int64(len(c.b)) {
		return nil, false
	}
	return c.b[start:end:end], true
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
	return &segment{
		meta:     segMeta{ID: id, Base: base},
		name:     name,
		f:        f,
		writeOff: segHeaderSize,
		size:     size,
	}, nil
}
