package wal

// scanSegmentRef is the recovery scan as it was before segments were read
// through a bounded window: the whole segment in memory. It is the
// reference the windowed scan must agree with exactly (results, errors,
// offsets and reasons); see TestScanMatchesReference and FuzzScanSegment.
func scanSegmentRef(b []byte, name string, sm segMeta) (scanResult, error) {
	var res scanResult
	id, base, ok := parseSegHeader(b)
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
		if sm.Last < sm.Base || sm.Last-sm.Base >= uint64(len(b))/8 {
			return res, corruptf(name, 0, "sealed range [%d, %d] impossible for a %d-byte segment", sm.Base, sm.Last, len(b))
		}
		need = int(sm.Last - sm.Base + 1)
	}
	for need < 0 || committed < need {
		f, ok := parseFrame(b, off, sm.ID)
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
	if pending := len(res.locs) - committed; pending > 0 &&
		oneFlipFromCommitRef(b, off, sm.ID, base+uint64(committed), uint64(pending), pendingStart) {
		return res, corruptf(name, off, "damaged commit frame of a complete batch")
	}
	for p := off + 8; p+frameHeaderSize <= int64(len(b)); p += 8 {
		if b[p+4] == 0 { // fast path: unwritten
			continue
		}
		if _, ok := parseFrame(b, p, sm.ID); ok {
			return res, corruptf(name, off, "invalid frame followed by valid data at offset %d", p)
		}
	}
	for _, c := range b[res.writeOff:] {
		if c != 0 {
			res.dirty = true
			break
		}
	}
	res.locs = res.locs[:committed]
	return res, nil
}

// oneFlipFromCommit reports whether flipping one bit of the commitFrameSize
// bytes at off (missing bytes past the end of b read as zero) yields the
// valid commit frame for the given batch.
func oneFlipFromCommitRef(b []byte, off int64, segID, first, count uint64, batchStart int64) bool {
	if off >= int64(len(b)) {
		return false
	}
	var want []byte
	want = appendCommit(want, segID, off, first, count, batchStart)
	var got [commitFrameSize]byte
	copy(got[:], b[off:])
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
