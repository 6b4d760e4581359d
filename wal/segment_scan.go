package wal

import (
	"bytes"
	"io"
	"strconv"
)

// minEntryFrameSize is the size of the smallest entry frame.
const minEntryFrameSize = frameHeaderSize + (entryFixedSize+7)&^7

// sectorSize is the smallest unit a torn write is assumed to leave
// unwritten: a crash persists or loses whole 512-byte sectors of the
// unsynced pages (the page cache writes back 4 KiB pages, made of
// sectors), in any order.
const sectorSize = 512

// scanResult is what recovery learned from one segment file.
type scanResult struct {
	locs     []entryLoc
	writeOff int64  // end of the last complete commit frame
	durable  int64  // highest durable offset recorded by a kept commit frame (segHeaderSize if none)
	version  uint32 // segment format version
	dirty    bool   // non-zero bytes after writeOff (a torn batch was dropped)
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
// to acknowledged data. How that is told depends on the segment's format:
// see scanTail (format 2) and scanTailV1 (format 1). The rest of the tail
// segment after the break is therefore always read to its end; runs of
// zeros (the preallocated, unwritten space) are skipped quickly.
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
	id, base, ver, ok := parseSegHeader(hdr[:])
	if !ok {
		return res, corruptf(name, 0, "bad segment header")
	}
	if !knownSegVersion(ver) {
		return res, corruptf(name, 0, "segment format version %d is not supported (this WAL reads %d and %d)", ver, segVersionV1, segVersion)
	}
	if id != sm.ID || base != sm.Base {
		return res, corruptf(name, 0, "segment header (id %d, base %d) does not match meta (id %d, base %d)", id, base, sm.ID, sm.Base)
	}
	s.ver, res.version = ver, ver
	off := int64(segHeaderSize)
	committed := 0 // entries covered by a commit frame
	pendingStart := off
	res.writeOff = off
	res.durable = segHeaderSize
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
			c, ok := parseCommit(f.payload, ver)
			pending := len(res.locs) - committed
			if !ok || pending == 0 || c.first != base+uint64(committed) || c.count != uint64(pending) || c.batchStart != pendingStart {
				return res, corruptf(name, off, "commit frame does not match its batch")
			}
			if ver >= 2 {
				// Durable offsets only grow within a segment, and a batch
				// is written after the bytes it finds durable.
				if c.durable < res.durable || c.durable > c.batchStart {
					return res, corruptf(name, off, "commit frame records durable offset %d, outside [%d, %d]", c.durable, res.durable, c.batchStart)
				}
				res.durable = c.durable
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
	var err error
	if ver == segVersionV1 {
		res.dirty, err = s.scanTailV1(off, sm, base+uint64(committed), uint64(len(res.locs)-committed), pendingStart, res.writeOff)
	} else {
		res.dirty, err = s.scanTail(off, sm.ID, res.writeOff, res.durable)
	}
	if err != nil {
		return res, err
	}
	res.locs = res.locs[:committed]
	return res, nil
}

// scanTail decides, for a format 2 tail segment, whether the invalid
// frame at the break off is a torn write (the result is whether any
// non-zero byte follows writeOff, the end of the last valid commit frame;
// durable is the highest durable offset those commit frames record) or
// damage (a *CorruptError). In one pass over the rest of the file it finds
// the valid frames after the break; they are the segment's own (a frame is
// valid only in the segment and at the offset it was written), written
// after the frame at the break. The break is damage, not a torn write, if:
//
//   - it lies below the highest durable offset recorded by any valid commit
//     frame of the segment: those bytes had been synced before a later
//     batch was written, so a crash cannot have torn them; or
//   - the frame there does not have the shape of a torn write (see
//     tornShape): a torn write leaves whole sectors unwritten (reading as
//     the preallocated zeros) or loses everything from some byte on, while
//     a bit flip or garbage does neither. This keeps detecting damage to
//     the newest acknowledged batches, which no later commit frame vouches
//     for.
//
// A valid commit frame after the break that does not record a possible
// durable offset is damage too.
func (s *segReader) scanTail(off int64, segID uint64, writeOff, durable int64) (dirty bool, err error) {
	size := s.size
	dirty, err = s.anyNonZero(writeOff, min(off+8, size))
	if err != nil {
		return false, err
	}
	firstValid := int64(-1) // offset of the first valid frame after the break
	claimAt := int64(-1)    // the commit frame that records durable, if after the break
	// off, writeOff and every frame size are 8-byte aligned, and a window
	// ends at an aligned offset or at the end of the file.
	for p := off + 8; p < size; {
		v, err := s.view(p)
		if err != nil {
			return false, err
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
			f, ok, err := s.frameAt(q, segID, v[k+4] == frameCommit)
			if err != nil {
				return false, err
			}
			if ok {
				if firstValid < 0 {
					firstValid = q
				}
				if f.typ == frameCommit {
					c, ok := parseCommit(f.payload, s.ver)
					if !ok || c.durable < segHeaderSize || c.durable > c.batchStart || c.batchStart >= q {
						return false, corruptf(s.name, q, "commit frame after the break at %d records no possible durable offset", off)
					}
					if c.durable > durable {
						durable, claimAt = c.durable, q
					}
				}
				p = q + f.size
				continue
			}
		}
		p = q + 8
	}
	if off < durable {
		return false, corruptf(s.name, off, "invalid frame below the durable offset %d recorded by the commit frame at %d", durable, claimAt)
	}
	if off >= size {
		return dirty, nil
	}
	if reason, err := s.tornShape(off, firstValid); err != nil {
		return false, err
	} else if reason != "" {
		return false, corruptf(s.name, off, "invalid frame above the durable offset %d is not a torn write: %s", durable, reason)
	}
	return dirty, nil
}

// tornShape checks that the invalid frame at off (< size), the first after
// the last valid one, has the shape of a torn write, and returns why not
// ("" if it has). The frame covers its header and the payload length the
// header declares, or only the header if the header is impossible (zeroed,
// say). It has the shape of a torn write if:
//
//   - it runs past the end of the file (a file cut short), or
//   - one of its parts, its intersection with a 512-byte sector, is all
//     zeros (a sector of the write that never reached the disk), or
//   - every byte from its last one to the end of the file is zero (the
//     write lost everything from some byte on).
//
// A frame whose declared length runs into the first valid frame after it
// (firstValid, -1 if none) cannot have been written that way, so it is
// not torn.
func (s *segReader) tornShape(off, firstValid int64) (string, error) {
	var hdr [frameHeaderSize]byte // bytes past the end of the file read as zero
	if err := s.readInto(hdr[:min(frameHeaderSize, s.size-off)], off); err != nil {
		return "", err
	}
	n, ok := frameExtent(hdr[:], s.ver)
	if !ok {
		n = frameHeaderSize
	}
	end := off + n
	if firstValid >= 0 && firstValid < off+align8(n) {
		return "its length runs into the valid frame at " + strconv.FormatInt(firstValid, 10), nil
	}
	if end > s.size {
		return "", nil
	}
	for a := off; a < end; {
		b := min(end, a&^(sectorSize-1)+sectorSize)
		nz, err := s.anyNonZero(a, b)
		if err != nil || !nz {
			return "", err
		}
		a = b
	}
	nz, err := s.anyNonZero(end-1, s.size)
	if err != nil || !nz {
		return "", err
	}
	return "no sector of it is zero and data follows it", nil
}
