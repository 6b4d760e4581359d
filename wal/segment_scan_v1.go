package wal

// scanTailV1 decides, for a format 1 tail segment (written before commit
// frames recorded durable offsets), whether the invalid frame at the break
// off is a torn write (the result is whether any non-zero byte follows
// writeOff, the end of the last valid commit frame) or damage (a
// *CorruptError). These are the rules format 1 was written for, which
// assume a crash loses a suffix of the unsynced bytes: the break is damage
// to acknowledged data if either
//   - some complete, valid frame exists at an 8-byte aligned offset after
//     the break (frames are only valid where they were written, so data was
//     written after the damaged point), or
//   - the broken frame is one bit flip away from the commit frame that
//     would close the pending batch (pending entries from index first,
//     whose first frame is at batchStart): a torn write zeroes the commit
//     trailer, whose bytes each have several bits set, so it is never one
//     flip away.
//
// A torn write that persisted a later page of the batch but not an
// earlier one is therefore refused as damage; Open seals a format 1 tail,
// so new batches go to a format 2 segment.
func (s *segReader) scanTailV1(off int64, sm segMeta, first, pending uint64, batchStart, writeOff int64) (dirty bool, err error) {
	size := s.size
	if pending > 0 && off < size {
		var got [commitFrameSizeV1]byte // bytes past the end read as zero
		if err := s.readInto(got[:min(commitFrameSizeV1, size-off)], off); err != nil {
			return false, err
		}
		if oneFlipFromCommitV1(&got, off, sm.ID, first, pending, batchStart) {
			return false, corruptf(s.name, off, "damaged commit frame of a complete batch")
		}
	}
	// One pass over the rest of the file: note any non-zero byte after
	// writeOff (dirty) and look for a valid frame at an aligned offset after
	// the break. off and writeOff are 8-byte aligned, and a window ends at
	// an aligned offset or at the end of the file.
	dirty, err = s.anyNonZero(writeOff, min(off+8, size))
	if err != nil {
		return false, err
	}
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
			if _, ok, err := s.frameAt(q, sm.ID, false); err != nil {
				return false, err
			} else if ok {
				return false, corruptf(s.name, off, "invalid frame followed by valid data at offset %d", q)
			}
		}
		p = q + 8
	}
	return dirty, nil
}

// oneFlipFromCommitV1 reports whether flipping one bit of got, the
// commitFrameSizeV1 bytes at off (missing bytes past the end of the file
// read as zero), yields the valid format 1 commit frame for the given
// batch.
func oneFlipFromCommitV1(got *[commitFrameSizeV1]byte, off int64, segID, first, count uint64, batchStart int64) bool {
	var buf [commitFrameSizeV1]byte
	want := appendCommitVer(buf[:0], segVersionV1, segID, off, commitRec{first: first, count: count, batchStart: batchStart})
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
