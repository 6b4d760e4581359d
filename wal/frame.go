package wal

import (
	"encoding/binary"
	"hash/crc32"
)

// Frame layout (little endian), always starting at an 8-byte aligned offset:
//
//	0  crc      u32  CRC32C over seed(segment ID, frame offset) ++ bytes 4..16 ++ payload
//	4  type     u8   frameEntry or frameCommit (0 = unwritten, end of log)
//	5  reserved 3 bytes, zero
//	8  length   u32  payload length
//	12 reserved 4 bytes, zero
//	16 payload, then zero padding to a multiple of 8 (checked to be zero)
//
// Seeding the CRC with the segment ID and the frame's own offset means a
// frame is only valid at the place it was written, in the file it was
// written to.
const (
	frameHeaderSize = 16

	frameEntry  = 1
	frameCommit = 2

	// commit payload (format 2): first index u64, count u64, batch start
	// offset u64, durable offset u64, trailer [8]byte. Format 1 has no
	// durable offset.
	commitPayloadSize   = 40
	commitFrameSize     = frameHeaderSize + commitPayloadSize
	commitPayloadSizeV1 = 32
	commitFrameSizeV1   = frameHeaderSize + commitPayloadSizeV1

	segHeaderSize = 32
	segVersion    = 2 // the format new segments are written in
	segVersionV1  = 1 // still read: no durable offsets in commit frames
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)

	segMagic = [8]byte{'K', 'E', 'E', 'L', 'S', 'E', 'G', 0}

	// commitTrailer ends every commit frame. Each byte has several bits
	// set, so a torn (zero-filled) end of a commit frame is never one bit
	// away from a valid commit frame; see recovery in segment_scan.go.
	commitTrailer = [8]byte{0xC3, 0x5A, 0xA5, 0x3C, 0x96, 0x69, 0xE7, 0x7E}
)

func align8(n int64) int64 { return (n + 7) &^ 7 }

func frameSize(payloadLen int) int64 { return frameHeaderSize + align8(int64(payloadLen)) }

// crcSeed is crc32.Update(0, castagnoli, seed) over the 16-byte seed of
// a frame (segID and off, little-endian), computed a byte at a time from the
// table: handing crc32 a slice makes it escape, and an array on the stack
// would cost an allocation per frame.
func crcSeed(segID uint64, off int64) uint32 {
	c := ^uint32(0)
	for _, v := range [2]uint64{segID, uint64(off)} {
		for range 8 {
			c = castagnoli[byte(c)^byte(v)] ^ (c >> 8)
			v >>= 8
		}
	}
	return ^c
}

func frameCRC(segID uint64, off int64, hdr, payload []byte) uint32 {
	c := crcSeed(segID, off)
	c = crc32.Update(c, castagnoli, hdr[4:frameHeaderSize])
	return crc32.Update(c, castagnoli, payload)
}

// appendFrame reserves a frame header in dst, appends the payload via
// fill and finishes header, CRC and padding. off is the file offset of the
// frame.
func appendFrame(dst []byte, segID uint64, off int64, typ byte, fill func([]byte) []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	dst = fill(dst)
	plen := len(dst) - start - frameHeaderSize
	hdr := dst[start : start+frameHeaderSize]
	hdr[4] = typ
	binary.LittleEndian.PutUint32(hdr[8:12], uint32(plen))
	binary.LittleEndian.PutUint32(hdr[0:4], frameCRC(segID, off, hdr, dst[start+frameHeaderSize:]))
	for pad := align8(int64(plen)) - int64(plen); pad > 0; pad-- {
		dst = append(dst, 0)
	}
	return dst
}

// appendCommit appends the (format 2) commit frame at off of the batch of
// count entries from index first whose first frame is at batchStart;
// durable is the segment offset up to which the segment was known to be
// on stable storage when the batch was written (see recovery in
// segment_scan.go).
func appendCommit(dst []byte, segID uint64, off int64, first, count uint64, batchStart, durable int64) []byte {
	return appendCommitVer(dst, segVersion, segID, off, commitRec{first: first, count: count, batchStart: batchStart, durable: durable})
}

// appendCommitVer appends a commit frame in segment format ver; format 1
// has no durable offset (c.durable is not written).
func appendCommitVer(dst []byte, ver uint32, segID uint64, off int64, c commitRec) []byte {
	return appendFrame(dst, segID, off, frameCommit, func(b []byte) []byte {
		b = binary.LittleEndian.AppendUint64(b, c.first)
		b = binary.LittleEndian.AppendUint64(b, c.count)
		b = binary.LittleEndian.AppendUint64(b, uint64(c.batchStart))
		if ver >= 2 {
			b = binary.LittleEndian.AppendUint64(b, uint64(c.durable))
		}
		return append(b, commitTrailer[:]...)
	})
}

// commitPayloadLen is the commit payload size of segment format ver.
func commitPayloadLen(ver uint32) int64 {
	if ver >= 2 {
		return commitPayloadSize
	}
	return commitPayloadSizeV1
}

type frame struct {
	typ     byte
	payload []byte
	size    int64 // total size including header and padding
}

// parseFrame decodes the frame at off in b (the whole segment of format
// ver). It returns ok=false if the bytes there are not a complete, valid
// frame. It never allocates and never panics.
func parseFrame(b []byte, off int64, segID uint64, ver uint32) (frame, bool) {
	if off < 0 || off > int64(len(b)) || int64(len(b))-off < frameHeaderSize {
		return frame{}, false
	}
	hdr := b[off : off+frameHeaderSize]
	typ := hdr[4]
	if typ != frameEntry && typ != frameCommit {
		return frame{}, false
	}
	if hdr[5]|hdr[6]|hdr[7]|hdr[12]|hdr[13]|hdr[14]|hdr[15] != 0 {
		return frame{}, false
	}
	plen := int64(binary.LittleEndian.Uint32(hdr[8:12]))
	switch {
	case typ == frameCommit && plen != commitPayloadLen(ver):
		return frame{}, false
	case typ == frameEntry && (plen < entryFixedSize || plen > MaxEntrySize):
		return frame{}, false
	}
	avail := int64(len(b)) - off - frameHeaderSize
	if plen > avail {
		return frame{}, false
	}
	payload := b[off+frameHeaderSize : off+frameHeaderSize+plen]
	size := frameSize(int(plen))
	if size > int64(len(b))-off {
		return frame{}, false
	}
	for _, c := range b[off+frameHeaderSize+plen : off+size] {
		if c != 0 { // padding must be zero: it is not covered by the CRC
			return frame{}, false
		}
	}
	if binary.LittleEndian.Uint32(hdr[0:4]) != frameCRC(segID, off, hdr, payload) {
		return frame{}, false
	}
	return frame{typ: typ, payload: payload, size: size}, true
}

type commitRec struct {
	first, count uint64
	batchStart   int64
	durable      int64 // format 2 only; 0 in format 1
}

// parseCommit decodes a commit payload of segment format ver.
func parseCommit(p []byte, ver uint32) (commitRec, bool) {
	n := commitPayloadLen(ver)
	if int64(len(p)) != n || [8]byte(p[n-8:n]) != commitTrailer {
		return commitRec{}, false
	}
	c := commitRec{
		first:      binary.LittleEndian.Uint64(p[0:8]),
		count:      binary.LittleEndian.Uint64(p[8:16]),
		batchStart: int64(binary.LittleEndian.Uint64(p[16:24])),
	}
	if ver >= 2 {
		c.durable = int64(binary.LittleEndian.Uint64(p[24:32]))
	}
	return c, true
}

// frameExtent returns the number of bytes the frame whose header is hdr
// (frameHeaderSize bytes, in a segment of format ver) says it covers:
// header and payload, without the padding. ok is false when the header
// is not one a valid frame can have (its CRC is not checked).
func frameExtent(hdr []byte, ver uint32) (n int64, ok bool) {
	typ := hdr[4]
	if typ != frameEntry && typ != frameCommit {
		return 0, false
	}
	if hdr[5]|hdr[6]|hdr[7]|hdr[12]|hdr[13]|hdr[14]|hdr[15] != 0 {
		return 0, false
	}
	plen := int64(binary.LittleEndian.Uint32(hdr[8:12]))
	switch {
	case typ == frameCommit && plen != commitPayloadLen(ver):
		return 0, false
	case typ == frameEntry && (plen < entryFixedSize || plen > MaxEntrySize):
		return 0, false
	}
	return frameHeaderSize + plen, true
}

// Segment header layout (32 bytes, little endian):
//
//	0  magic    "KEELSEG\x00"
//	8  version  u32 (2; 1 is still read)
//	12 crc      u32  CRC32C of bytes 0..12 ++ 16..32
//	16 id       u64  segment ID (also the file name)
//	24 base     u64  index of the first entry in the segment
func encodeSegHeader(id, base uint64) []byte { return encodeSegHeaderVer(segVersion, id, base) }

// encodeSegHeaderVer is encodeSegHeader for format ver (tests write
// format 1).
func encodeSegHeaderVer(ver uint32, id, base uint64) []byte {
	h := make([]byte, segHeaderSize)
	copy(h, segMagic[:])
	binary.LittleEndian.PutUint32(h[8:12], ver)
	binary.LittleEndian.PutUint64(h[16:24], id)
	binary.LittleEndian.PutUint64(h[24:32], base)
	binary.LittleEndian.PutUint32(h[12:16], segHeaderCRC(h))
	return h
}

func segHeaderCRC(h []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[0:12])
	return crc32.Update(c, castagnoli, h[16:32])
}

// parseSegHeader returns the segment ID, base index and format version of
// a header whose magic and CRC are valid. The version is not checked:
// see knownSegVersion.
func parseSegHeader(h []byte) (id, base uint64, ver uint32, ok bool) {
	if len(h) < segHeaderSize || [8]byte(h[0:8]) != segMagic ||
		binary.LittleEndian.Uint32(h[12:16]) != segHeaderCRC(h) {
		return 0, 0, 0, false
	}
	return binary.LittleEndian.Uint64(h[16:24]), binary.LittleEndian.Uint64(h[24:32]),
		binary.LittleEndian.Uint32(h[8:12]), true
}

// knownSegVersion reports whether segments of format ver can be read.
func knownSegVersion(ver uint32) bool { return ver == segVersionV1 || ver == segVersion }
