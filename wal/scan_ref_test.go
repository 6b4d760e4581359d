package wal

import (
	"encoding/binary"
	"strconv"
)

// scanSegmentRef is the recovery scan written plainly, with the whole
// segment in memory (as it was before segments were read through a
// bounded window). It is the reference the windowed scan must agree with
// exactly (results, errors, offsets and reasons); see
// TestScanMatchesReference and FuzzScanSegment.
func scanSegmentRef(b []byte, name string, sm segMeta) (scanResult, error) {
	var res scanResult
	id, base, ver, ok := parseSegHeader(b)
	if !ok {
		return res, corruptf(name, 0, "bad segment header")
	}
	if !knownSegVersion(ver) {
		return res, corruptf(name, 0, "segment format version %d is not supported (this WAL reads %d and %d)", ver, segVersionV1, segVersion)
	}
	if id != sm.ID || base != sm.Base {
		return res, corruptf(name, 0, "segment header (id %d, base %d) does not match meta (id %d, base %d)", id, base, sm.ID, sm.Base)
	}
	res.version = ver
	off := int64(segHeaderSize)
	committed := 0 // entries covered by a commit frame
	pendingStart := off
	res.writeOff = off
	res.durable = segHeaderSize
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
		f, ok := parseFrame(b, off, sm.ID, ver)
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
		err = scanTailV1Ref(b, name, off, sm.ID, base+uint64(committed), uint64(len(res.locs)-committed), pendingStart)
	} else {
		err = scanTailRef(b, name, off, sm.ID, res.durable)
	}
	if err != nil {
		return res, err
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

// scanTailRef is scanTail on the whole segment b.
func scanTailRef(b []byte, name string, off int64, segID uint64, durable int64) error {
	size := int64(len(b))
	// The valid frames after the break, found by trying every aligned
	// offset, skipping over each valid frame.
	firstValid, claimAt := int64(-1), int64(-1)
	for p := off + 8; p+frameHeaderSize <= size; {
		f, ok := parseFrame(b, p, segID, segVersion)
		if !ok {
			p += 8
			continue
		}
		if firstValid < 0 {
			firstValid = p
		}
		if f.typ == frameCommit {
			c, ok := parseCommit(f.payload, segVersion)
			if !ok || c.durable < segHeaderSize || c.durable > c.batchStart || c.batchStart >= p {
				return corruptf(name, p, "commit frame after the break at %d records no possible durable offset", off)
			}
			if c.durable > durable {
				durable, claimAt = c.durable, p
			}
		}
		p += f.size
	}
	if off < durable {
		return corruptf(name, off, "invalid frame below the durable offset %d recorded by the commit frame at %d", durable, claimAt)
	}
	if off >= size {
		return nil
	}
	// The torn-write shape of the frame at the break.
	at := func(i int64) byte { // bytes past the end read as zero
		if i < size {
			return b[i]
		}
		return 0
	}
	var hdr [frameHeaderSize]byte
	for i := range hdr {
		hdr[i] = at(off + int64(i))
	}
	n := int64(frameHeaderSize)
	if typ := hdr[4]; (typ == frameEntry || typ == frameCommit) &&
		hdr[5]|hdr[6]|hdr[7]|hdr[12]|hdr[13]|hdr[14]|hdr[15] == 0 {
		plen := int64(binary.LittleEndian.Uint32(hdr[8:12]))
		if (typ == frameCommit && plen == commitPayloadSize) ||
			(typ == frameEntry && plen >= entryFixedSize && plen <= MaxEntrySize) {
			n = frameHeaderSize + plen
		}
	}
	end := off + n
	reason := ""
	switch {
	case firstValid >= 0 && firstValid < off+align8(n):
		reason = "its length runs into the valid frame at " + strconv.FormatInt(firstValid, 10)
	case end > size:
	case zeroSectorPartRef(b[off:end], off):
	case allZeroRef(b[end-1:]):
	default:
		reason = "no sector of it is zero and data follows it"
	}
	if reason != "" {
		return corruptf(name, off, "invalid frame above the durable offset %d is not a torn write: %s", durable, reason)
	}
	return nil
}

// zeroSectorPartRef reports whether the intersection of frame (at file
// offset off) with some 512-byte sector is all zero.
func zeroSectorPartRef(frame []byte, off int64) bool {
	for i := range frame {
		if i == 0 || (off+int64(i))%sectorSize == 0 {
			j := i
			for j < len(frame) && (j == i || (off+int64(j))%sectorSize != 0) {
				j++
			}
			if allZeroRef(frame[i:j]) {
				return true
			}
		}
	}
	return false
}

func allZeroRef(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// scanTailV1Ref is scanTailV1 on the whole segment b.
func scanTailV1Ref(b []byte, name string, off int64, segID, first, pending uint64, batchStart int64) error {
	if pending > 0 && oneFlipFromCommitRef(b, off, segID, first, pending, batchStart) {
		return corruptf(name, off, "damaged commit frame of a complete batch")
	}
	for p := off + 8; p+frameHeaderSize <= int64(len(b)); p += 8 {
		if b[p+4] == 0 { // fast path: unwritten
			continue
		}
		if _, ok := parseFrame(b, p, segID, segVersionV1); ok {
			return corruptf(name, off, "invalid frame followed by valid data at offset %d", p)
		}
	}
	return nil
}

// oneFlipFromCommitRef reports whether flipping one bit of the
// commitFrameSizeV1 bytes at off (missing bytes past the end of b read as
// zero) yields the valid format 1 commit frame for the given batch.
func oneFlipFromCommitRef(b []byte, off int64, segID, first, count uint64, batchStart int64) bool {
	if off >= int64(len(b)) {
		return false
	}
	want := appendCommitVer(nil, segVersionV1, segID, off, commitRec{first: first, count: count, batchStart: batchStart})
	var got [commitFrameSizeV1]byte
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
