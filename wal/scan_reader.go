package wal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// scanWindow is the size of the buffer recovery reads segments through:
// recovery memory does not grow with the segment size. Frames larger than
// the window are checked by streaming them through it.
const scanWindow = 1 << 20

// segReader reads one segment file through a reusable window buffer for
// recovery. The window always starts at an 8-byte aligned file offset and
// holds up to cap(buf) bytes (a multiple of 8), so a window ends at an
// aligned offset or at the end of the file. A segReader is reused for the
// segments of one Open, one at a time.
type segReader struct {
	win   int    // window size in bytes, a multiple of 8, at least 16
	ver   uint32 // format version of the segment being read
	r     io.ReaderAt
	name  string
	size  int64  // file size
	buf   []byte // window: file bytes [start, start+len(buf))
	start int64
	big   []byte   // payload of a frame larger than the window
	seed  [28]byte // CRC seed scratch: segment ID, offset, header bytes 4..16
}

// newSegReader returns a segReader with a window of win bytes (rounded up
// to a multiple of 8 and at least 16).
func newSegReader(win int) *segReader {
	return &segReader{win: max(int(align8(int64(win))), 16)}
}

// reset points the reader at a segment file of the given size. The window
// buffer is kept (and grown to min(win, size) if smaller).
func (s *segReader) reset(r io.ReaderAt, size int64, name string) {
	s.r, s.size, s.name = r, size, name
	want := int(min(int64(s.win), align8(size)))
	if cap(s.buf) < want {
		s.buf = make([]byte, 0, want)
	}
	s.buf, s.start = s.buf[:0], 0
}

// fill loads the window starting at the aligned offset at or before off
// (off < size).
func (s *segReader) fill(off int64) error {
	start := off &^ 7
	n := int(min(int64(cap(s.buf)), s.size-start))
	s.buf = s.buf[:n]
	m, err := s.r.ReadAt(s.buf, start)
	if m < n {
		s.buf, s.start = s.buf[:0], 0
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("wal: read %s at %d: %w", s.name, start, err)
	}
	s.start = start
	return nil
}

// view returns the bytes of the file from off (< size) to the end of the
// window, at least one byte. The slice is valid until the next read.
func (s *segReader) view(off int64) ([]byte, error) {
	if off < s.start || off >= s.start+int64(len(s.buf)) {
		if err := s.fill(off); err != nil {
			return nil, err
		}
	}
	return s.buf[off-s.start:], nil
}

// window returns the n file bytes at the aligned offset off (off+n <= size,
// n <= cap(buf)). The slice is valid until the next read.
func (s *segReader) window(off int64, n int) ([]byte, error) {
	if off < s.start || off+int64(n) > s.start+int64(len(s.buf)) {
		if err := s.fill(off); err != nil {
			return nil, err
		}
	}
	i := off - s.start
	return s.buf[i : i+int64(n)], nil
}

// readInto copies the file bytes at off into dst (off+len(dst) <= size).
func (s *segReader) readInto(dst []byte, off int64) error {
	for len(dst) > 0 {
		v, err := s.view(off)
		if err != nil {
			return err
		}
		n := copy(dst, v)
		dst, off = dst[n:], off+int64(n)
	}
	return nil
}

// crcStart returns the frame CRC (as frameCRC computes it) over the seed
// and the header hdr of the frame at off, before the payload. Unlike
// frameCRC it does not allocate.
func (s *segReader) crcStart(segID uint64, off int64, hdr []byte) uint32 {
	binary.LittleEndian.PutUint64(s.seed[0:], segID)
	binary.LittleEndian.PutUint64(s.seed[8:], uint64(off))
	copy(s.seed[16:], hdr[4:frameHeaderSize])
	return crc32.Update(0, castagnoli, s.seed[:])
}

// frameAt is parseFrame on the segment file: it reports whether a
// complete, valid frame of segment segID is at off. The payload is
// returned only if want is set; it is valid until the next read. err is
// an I/O error.
func (s *segReader) frameAt(off int64, segID uint64, want bool) (f frame, ok bool, err error) {
	if off < 0 || off > s.size || s.size-off < frameHeaderSize {
		return frame{}, false, nil
	}
	hdr, err := s.window(off, frameHeaderSize)
	if err != nil {
		return frame{}, false, err
	}
	typ := hdr[4]
	if typ != frameEntry && typ != frameCommit {
		return frame{}, false, nil
	}
	if hdr[5]|hdr[6]|hdr[7]|hdr[12]|hdr[13]|hdr[14]|hdr[15] != 0 {
		return frame{}, false, nil
	}
	plen := int64(binary.LittleEndian.Uint32(hdr[8:12]))
	switch {
	case typ == frameCommit && plen != commitPayloadLen(s.ver):
		return frame{}, false, nil
	case typ == frameEntry && (plen < entryFixedSize || plen > MaxEntrySize):
		return frame{}, false, nil
	}
	size := frameSize(int(plen)) // >= frameHeaderSize+plen
	if size > s.size-off {
		return frame{}, false, nil
	}
	f = frame{typ: typ, size: size}
	if size <= int64(cap(s.buf)) {
		// The common case: the whole frame fits in the window.
		b, err := s.window(off, int(size))
		if err != nil {
			return frame{}, false, err
		}
		payload := b[frameHeaderSize : frameHeaderSize+plen]
		if !allZero(b[frameHeaderSize+plen:]) { // padding is not covered by the CRC
			return frame{}, false, nil
		}
		c := crc32.Update(s.crcStart(segID, off, b), castagnoli, payload)
		if binary.LittleEndian.Uint32(b[0:4]) != c {
			return frame{}, false, nil
		}
		if want {
			f.payload = payload
		}
		return f, true, nil
	}
	// A frame larger than the window: stream the payload through it.
	wantCRC := binary.LittleEndian.Uint32(hdr[0:4])
	c := s.crcStart(segID, off, hdr)
	end := off + frameHeaderSize + plen
	for p := off + frameHeaderSize; p < end; {
		v, err := s.view(p)
		if err != nil {
			return frame{}, false, err
		}
		v = v[:min(int64(len(v)), end-p)]
		c = crc32.Update(c, castagnoli, v)
		p += int64(len(v))
	}
	var pad [8]byte
	if err := s.readInto(pad[:off+size-end], end); err != nil {
		return frame{}, false, err
	}
	if pad != [8]byte{} || c != wantCRC {
		return frame{}, false, nil
	}
	if want {
		// Only a valid frame gets here, so this allocates at most what
		// one entry written by StoreLogs needs.
		if int64(cap(s.big)) < plen {
			s.big = make([]byte, plen)
		}
		f.payload = s.big[:plen]
		if err := s.readInto(f.payload, off+frameHeaderSize); err != nil {
			return frame{}, false, err
		}
	}
	return f, true, nil
}

// anyNonZero reports whether a byte in [from, to) of the file is not zero.
func (s *segReader) anyNonZero(from, to int64) (bool, error) {
	for p := from; p < to; {
		v, err := s.view(p)
		if err != nil {
			return false, err
		}
		v = v[:min(int64(len(v)), to-p)]
		if firstNonZero(v) >= 0 {
			return true, nil
		}
		p += int64(len(v))
	}
	return false, nil
}

// zeroBlock is compared against to skip zeros quickly.
var zeroBlock [4096]byte

func allZero(b []byte) bool { return firstNonZero(b) < 0 }

// firstNonZero returns the index of the first non-zero byte of b, or -1.
func firstNonZero(b []byte) int {
	i := 0
	for i+len(zeroBlock) <= len(b) && bytes.Equal(b[i:i+len(zeroBlock)], zeroBlock[:]) {
		i += len(zeroBlock)
	}
	for i+8 <= len(b) && binary.LittleEndian.Uint64(b[i:]) == 0 {
		i += 8
	}
	for ; i < len(b); i++ {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}
