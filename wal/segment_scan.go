package wal

import (
	"bytes"
	"io"
)

// minEntryFrameSize is the size of the smallest entry frame.
const minEntryFrameSize = frameHeaderSize + (entryFixedSize+7)&^7

// scanResult is what recovery learned from one segment file.
type scanResult struct {
	locs     []entryLoc
	writeOff int64 // end of the last complete commit frame
	dirty    bool  // non-zero bytes after writeOff (a torn batch was dropped)
}

// scanSegment rebuilds the offset index of one segment from its bytes b.
// See scanSegmentFile.
func scanSegment(b []byte, name string, sm segMeta) (scanResult, error) {
	return newSegReader(scanWindow).scanSegmentFile(bytes.NewReader(b), int64(len(b)), name, sm)
}

// scanSegmentFile rebuilds the offset index of one segment file of the
// given size, read through s's window (its memory use does not depend on
// the segment size). A sealed segment is read only up to its last entry.
//
// A sealed segment must contain complete, committed, contiguous entries from
// sm.Base through sm.Last; anything after the commit frame that covers
// sm.Last is ignored (it was removed by a tail truncation). Any damage
// before that is corruption.
//
// The unsealed tail segment is read up to the first frame that is not valid
// (the break). Entries after the last valid commit frame are a torn,
// unacknowledged batch and are dropped, unless the break is really damage
// to acknowledged data, recognised by either of:
//   - some complete, valid frame exists at an 8-byte aligned offset after
//     the break (frames are only valid where they were written, so data was
//     written after the damaged point), or
//   - the broken frame is one bit flip away from the commit frame that
//     would close the pending batch (a torn write zeroes the commit
//     trailer, whose bytes each have several bits set, so it is never one
//     flip away).
//
// The rest of the tail segment after the break is therefore always read to
// its end; runs of zeros (the preallocated, unwritten space) are skipped
// quickly.
//
// Errors are a *CorruptError or an I/O error of r.
func (s *segReader) scanSegmentFile(r io.ReaderAt, size int64, name string, sm segMeta) (scanResult, error) {
	var res scanResult
	s.reset(r, size, name)
	defer s.reset(nil, 0, "") // drop the file, keep the buffers
	if size < segHeaderSize {
		return res, corruptf(name, 0, "bad segment header")
	}
	var hdr [segHeaderSize]byte
	if err := s.readInto(hdr[:], 0); err != nil {
		return res, err
	}
	id, base, ok := parseSegHeader(hdr[:])
	if !ok {
		return res, corruptf(name, 0, "bad segment header")
	}
	if id != sm.ID || base != sm.Base {
		return res, corruptf(name, 0, "segment header (id %d, base %d) does not match meta (id %d, base %d)", id, base, sm.ID, sm.Base)
	}
	off := int64(segHeaderSize)
	committed := 0 // entries covered by a commit frame
	pendingStart := off
	res.writeOff = off
	next := base
	need := -1 // entries a sealed segment must hold
	if sm.Sealed {
		// Every entry frame takes more than 8 bytes, which bounds need.
		if sm.Last < sm.Base || sm.Last-sm.Base >= uint64(size)/8 {
			return res, corruptf(name, 0, "sealed range [%d, %d] impossible for a %d-byte segment", sm.Base, sm.Last, size)
		}
		need = int(sm.Last - sm.Base + 1)
		// The index of a sealed segment has a known length: allocate it
		// once (bounded by the entry frames the file can hold).
		res.locs = make([]entryLoc, 0, min(need, int(size/minEntryFrameSize)))
	}
	for need < 0 || committed < need {
		f, ok, err := s.frameAt(off, sm.ID, true)
		if err != nil {
			return res, err
		}
		if !ok {
			break
		}
		switch f.typ {
		case frameEntry:
			idx, err := checkEntry(f.payload)
			if err != nil {
				return res, corruptf(name, off, "entry frame: %v", err)
			}
			if idx != next {
				return res, corruptf(name, off, "index gap: found %d, want %d", idx, next)
			}
			res.locs = append(res.locs, entryLoc{off: off, n: uint32(len(f.payload))})
			next++
		case frameCommit:
			c, ok := parseCommit(f.payload)
			pending := len(res.locs) - committed
			if !ok || pending == 0 || c.first != base+uint64(committed) || c.count != uint64(pending) || c.batchStart != pendingStart {
				return res, corruptf(name, off, "commit frame does not match its batch")
			}
			committed = len(res.locs)
			pendingStart = off + f.size
			res.writeOff = pendingStart
		}
		off += f.size
	}
	if need >= 0 {
		if committed < need {
			return res, corruptf(name, off, "sealed segment ends at index %d, want %d", base+uint64(committed)-1, sm.Last)
		}
		res.locs = res.locs[:need]
		return res, nil
	}
	// Tail segment: off is the break.
	if pending := len(res.locs) - committed; pending > 0 && off < size {
		var got [commitFrameSize]byte // bytes past the end read as zero
		if err := s.readInto(got[:min(commitFrameSize, size-off)], off); err != nil {
			return res, err
		}
		if oneFlipFromCommit(&got, off, sm.ID, base+uint64(committed), uint64(pending), pendingStart) {
			return res, corruptf(name, off, "damaged commit frame of a complete batch")
		}
	}
	// One pass over the rest of the file: note any non-zero byte after
	// writeOff (dirty) and look for a valid frame at an aligned offset after
	// the break. off and writeOff are 8-byte aligned, and a window ends at
	// an aligned offset or at the end of the file.
	dirty, err := s.anyNonZero(res.writeOff, min(off+8, size))
	if err != nil {
		return res, err
	}
	for p := off + 8; p < size; {
		v, err := s.view(p)
		if err != nil {
			return res, err
		}
		k := firstNonZero(v)
		if k < 0 {
			p += int64(len(v))
			continue
		}
		dirty = true
		// The first non-zero byte is in the 8-byte slot at q; a frame
		// there needs a non-zero type byte, which v holds if the frame
		// fits in the file.
		k &^= 7
		q := p + int64(k)
		if q+frameHeaderSize <= size && v[k+4] != 0 {
			if _, ok, err := s.frameAt(q, sm.ID, false); err != nil {
				return res, err
			} else if ok {
				return res, corruptf(name, off, "invalid frame followed by valid data at offset %d", q)
			}
		}
		p = q + 8
	}
	res.dirty = dirty
	res.locs = res.locs[:committed]
	return res, nil
}

// oneFlipFromCommit reports whether flipping one bit of got, the
// commitFrameSize bytes at off (missing bytes past the end of the file read
// as zero), yields the valid commit frame for the given batch.
func oneFlipFromCommit(got *[commitFrameSize]byte, off int64, segID, first, count uint64, batchStart int64) bool {
	var buf [commitFrameSize]byte
	want := appendCommit(buf[:0], segID, off, first, count, batchStart)
	diff := 0
	for i := range got {
		x := got[i] ^ want[i]
		for x != 0 {
			diff++
			x &= x - 1
		}
	}
	return diff == 1
}
