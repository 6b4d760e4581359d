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

	// commit payload: first index u64, count u64, batch start offset u64,
	// trailer [8]byte.
	commitPayloadSize = 32
	commitFrameSize   = frameHeaderSize + commitPayloadSize

	segHeaderSize = 32
	segVersion    = 1
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

func appendCommit(dst []byte, segID uint64, off int64, first, count uint64, batchStart int64) []byte {
	return appendFrame(dst, segID, off, frameCommit, func(b []byte) []byte {
		b = binary.LittleEndian.AppendUint64(b, first)
		b = binary.LittleEndian.AppendUint64(b, count)
		b = binary.LittleEndian.AppendUint64(b, uint64(batchStart))
		return append(b, commitTrailer[:]...)
	})
}

type frame struct {
	typ     byte
	payload []byte
	size    int64 // total size including header and padding
}

// parseFrame decodes the frame at off in b (the whole segment). It returns
// ok=false if the bytes there are not a complete, valid frame. It never
// allocates and never panics.
func parseFrame(b []byte, off int64, segID uint64) (frame, bool) {
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
	case typ == frameCommit && plen != commitPayloadSize:
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
}

func parseCommit(p []byte) (commitRec, bool) {
	if len(p) != commitPayloadSize || [8]byte(p[24:32]) != commitTrailer {
		return commitRec{}, false
	}
	return commitRec{
		first:      binary.LittleEndian.Uint64(p[0:8]),
		count:      binary.LittleEndian.Uint64(p[8:16]),
		batchStart: int64(binary.LittleEndian.Uint64(p[16:24])),
	}, true
}

// Segment header layout (32 bytes, little endian):
//
//	0  magic    "KEELSEG\x00"
//	8  version  u32 (1)
//	12 crc      u32  CRC32C of bytes 0..12 ++ 16..32
//	16 id       u64  segment ID (also the file name)
//	24 base     u64  index of the first entry in the segment
func encodeSegHeader(id, base uint64) []byte {
	h := make([]byte, segHeaderSize)
	copy(h, segMagic[:])
	binary.LittleEndian.PutUint32(h[8:12], segVersion)
	binary.LittleEndian.PutUint64(h[16:24], id)
	binary.LittleEndian.PutUint64(h[24:32], base)
	binary.LittleEndian.PutUint32(h[12:16], segHeaderCRC(h))
	return h
}

func segHeaderCRC(h []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[0:12])
	return crc32.Update(c, castagnoli, h[16:32])
}

// parseSegHeader returns the segment ID and base index of a header.
func parseSegHeader(h []byte) (id, base uint64, ok bool) {
	if len(h) < segHeaderSize || [8]byte(h[0:8]) != segMagic ||
		binary.LittleEndian.Uint32(h[8:12]) != segVersion ||
		binary.LittleEndian.Uint32(h[12:16]) != segHeaderCRC(h) {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(h[16:24]), binary.LittleEndian.Uint64(h[24:32]), true
}
