package wal

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// equivWindows are the window sizes the windowed scan is compared with the
// reference at: tiny ones force frames through the streaming path and
// windows that end inside frames.
var equivWindows = []int{16, 24, 64, 200, 4096, scanWindow}

// requireSameScan checks that the windowed scan of b agrees exactly with
// the whole-segment reference scan at every window size, with a fresh
// reader and with rd, a reader reused across calls (nil to skip).
func requireSameScan(tb testing.TB, b []byte, sm segMeta, readers []*segReader) {
	tb.Helper()
	want, wantErr := scanSegmentRef(b, "t.seg", sm)
	check := func(sr *segReader, what string) {
		got, err := sr.scanSegmentFile(bytes.NewReader(b), int64(len(b)), "t.seg", sm)
		require.Equal(tb, wantErr, err, "%s: error", what)
		if err == nil { // the result of a failed scan is not used
			require.Equal(tb, want, got, "%s: result", what)
		}
	}
	for i, win := range equivWindows {
		check(newSegReader(win), "window "+strconv.Itoa(win))
		if readers != nil {
			check(readers[i], "reused window "+strconv.Itoa(win))
		}
	}
}

// segImage is a segment built the way StoreLogs writes it, with the
// offsets of its frames.
type segImage struct {
	b       []byte
	ver     uint32
	id      uint64
	base    uint64
	count   int     // entries
	end     int64   // end of the last frame
	frames  []int64 // offsets of all frames
	commits []int64 // offsets of commit frames
}

func buildImage(rng *rand.Rand, id, base uint64, maxData int) segImage {
	ver := uint32(segVersion)
	if rng.IntN(4) == 0 {
		ver = segVersionV1
	}
	im := segImage{b: encodeSegHeaderVer(ver, id, base), ver: ver, id: id, base: base}
	next := base
	ends := []int64{segHeaderSize} // batch boundaries, candidates for durable offsets
	durable := int64(segHeaderSize)
	for range rng.IntN(6) {
		start := int64(len(im.b))
		n := 1 + rng.IntN(4)
		for range n {
			data := make([]byte, rng.IntN(maxData+1))
			if rng.IntN(4) > 0 { // else zeros, which a torn sector looks like
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
			}
			l := &raft.Log{Index: next, Term: 3, Type: raft.LogCommand, Data: data}
			if rng.IntN(3) == 0 {
				l.Extensions = []byte("ext")
			}
			im.frames = append(im.frames, int64(len(im.b)))
			im.b = appendFrame(im.b, id, int64(len(im.b)), frameEntry, func(p []byte) []byte { return appendEntry(p, l) })
			next++
		}
		// The durable offset: the previous batch's end (no DeferSync) or
		// an earlier boundary (a background sync that lags), never less
		// than before.
		if rng.IntN(2) == 0 {
			durable = start
		} else {
			for _, e := range ends {
				if e >= durable && rng.IntN(2) == 0 {
					durable = e
					break
				}
			}
		}
		im.frames = append(im.frames, int64(len(im.b)))
		im.commits = append(im.commits, int64(len(im.b)))
		im.b = appendCommitVer(im.b, ver, id, int64(len(im.b)), commitRec{first: next - uint64(n), count: uint64(n), batchStart: start, durable: durable})
		ends = append(ends, int64(len(im.b)))
	}
	im.count = int(next - base)
	im.end = int64(len(im.b))
	// Preallocated zeros, sometimes none, sometimes an unaligned amount.
	switch rng.IntN(4) {
	case 0:
	case 1:
		im.b = append(im.b, make([]byte, rng.IntN(64))...)
	default:
		im.b = append(im.b, make([]byte, rng.IntN(8192))...)
	}
	return im
}

// mutate damages im.b in one of the ways recovery must tell apart.
func mutate(rng *rand.Rand, im *segImage) {
	b := im.b
	pick := func() int64 {
		if len(im.frames) > 0 && rng.IntN(2) == 0 {
			return min(im.frames[rng.IntN(len(im.frames))], int64(len(b)))
		}
		return int64(rng.IntN(len(b) + 1))
	}
	switch rng.IntN(11) {
	case 0: // bit flip anywhere
		if len(b) > 0 {
			i := rng.IntN(len(b))
			b[i] ^= 1 << rng.IntN(8)
		}
	case 1: // one bit flip in a commit frame
		if len(im.commits) > 0 {
			c := im.commits[rng.IntN(len(im.commits))]
			if i := c + int64(rng.IntN(commitFrameSize)); i < int64(len(b)) {
				b[i] ^= 1 << rng.IntN(8)
			}
		}
	case 2: // torn: zero from a point on
		clear(b[pick():])
	case 3: // zero a range
		from := pick()
		to := min(int64(len(b)), from+int64(rng.IntN(300)))
		clear(b[from:to])
	case 4: // garbage
		from := pick()
		to := min(int64(len(b)), from+int64(rng.IntN(100)))
		for i := from; i < to; i++ {
			b[i] = byte(rng.Uint32())
		}
	case 5: // truncate
		im.b = b[:pick()]
	case 6, 7: // a valid frame at a later aligned offset (data after damage) or next
		off := align8(int64(rng.IntN(len(b) + 64)))
		if rng.IntN(2) == 0 {
			off = im.end
		}
		l := &raft.Log{Index: im.base + uint64(rng.IntN(im.count+2)), Term: 3, Data: []byte("later")}
		var f []byte
		switch rng.IntN(4) {
		case 0:
			durable := int64(segHeaderSize) + 8*int64(rng.IntN(int(off/8)+2))
			if rng.IntN(2) == 0 {
				durable = max(segHeaderSize, off-64)
			}
			f = appendCommitVer(nil, im.ver, im.id, off, commitRec{first: l.Index, count: 1, batchStart: off - 64, durable: durable})
		case 1: // valid CRC, malformed entry
			f = appendFrame(nil, im.id, off, frameEntry, func(p []byte) []byte {
				for range entryFixedSize + rng.IntN(20) {
					p = append(p, byte(rng.IntN(3)))
				}
				return p
			})
		default:
			f = appendFrame(nil, im.id, off, frameEntry, func(p []byte) []byte { return appendEntry(p, l) })
		}
		if need := off + int64(len(f)); need > int64(len(b)) {
			b = append(b, make([]byte, need-int64(len(b)))...)
		}
		copy(b[off:], f)
		im.b = b
	case 9, 10: // torn, reordered: zero some 512-byte sectors from a point on
		from := pick()
		for sec := from &^ (sectorSize - 1); sec < int64(len(b)); sec += sectorSize {
			if rng.IntN(2) == 0 {
				clear(b[max(sec, from):min(sec+sectorSize, int64(len(b)))])
			}
		}
	case 8: // a type byte and a forged length, or a plausible header
		if len(b) >= 16 {
			off := align8(pick()) &^ 7
			if off+16 <= int64(len(b)) {
				b[off+4] = byte(1 + rng.IntN(2))
				clear(b[off+5 : off+8])
				clear(b[off+12 : off+16])
				b[off+8], b[off+9], b[off+10], b[off+11] = byte(rng.Uint32()), byte(rng.IntN(4)), 0, 0
				if rng.IntN(4) == 0 {
					b[off+11] = 0x0F // up to MaxEntrySize
				}
			}
		}
	}
}

// TestScanMatchesReference compares the windowed scan with the
// whole-segment reference on random valid and damaged segments, sealed and
// unsealed, at several window sizes (also reusing readers across
// segments, as Open does).
func TestScanMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(internalSeed(t)), 1))
	readers := make([]*segReader, len(equivWindows))
	for i, win := range equivWindows {
		readers[i] = newSegReader(win)
	}
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	for it := range iters {
		im := buildImage(rng, 1+uint64(rng.IntN(3)), 1+uint64(rng.IntN(100)), []int{8, 100, 700}[rng.IntN(3)])
		for range rng.IntN(3) {
			mutate(rng, &im)
		}
		sm := segMeta{ID: im.id, Base: im.base}
		switch rng.IntN(4) {
		case 0:
			sm.Sealed = true
			sm.Last = im.base + uint64(rng.IntN(im.count+2)) - 1
		case 1:
			sm.ID = 1 + uint64(rng.IntN(3)) // frames may be from another segment
		}
		t.Run(strconv.Itoa(it), func(t *testing.T) {
			requireSameScan(t, im.b, sm, readers)
		})
		if t.Failed() {
			return
		}
	}
}

// TestScanLargeFrames covers entries larger than the real window: a valid
// one, a torn one, one followed by a damaged frame and valid data.
func TestScanLargeFrames(t *testing.T) {
	big := func(idx uint64, n int) *raft.Log {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte(i * 31)
		}
		return &raft.Log{Index: idx, Term: 1, Data: d}
	}
	seg := buildSegment(4, 1, 6<<20, [][]*raft.Log{
		fuzzLogs(1, 2), {big(3, scanWindow+5)}, {big(4, 3*scanWindow)}, fuzzLogs(5, 1),
	})
	sealed := segMeta{ID: 4, Base: 1, Last: 5, Sealed: true}
	tail := segMeta{ID: 4, Base: 1}
	requireSameScan(t, seg, tail, nil)
	requireSameScan(t, seg, sealed, nil)
	res, err := scanSegment(seg, "t.seg", tail)
	require.NoError(t, err)
	require.Len(t, res.locs, 5)
	require.False(t, res.dirty)

	// Torn inside the large entry of the last complete batch but one: the
	// valid commit frame of index 5 after it makes this corruption.
	third := res.locs[3].off
	damaged := bytes.Clone(seg)
	damaged[third+100] ^= 0xFF
	requireSameScan(t, damaged, tail, nil)
	_, err = scanSegment(damaged, "t.seg", tail)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, third, ce.Offset)

	// Torn in the last batch: everything after is zero, so it is a torn
	// tail (dirty), not corruption.
	torn := bytes.Clone(seg)
	clear(torn[third+int64(2*scanWindow):])
	requireSameScan(t, torn, tail, nil)
	res, err = scanSegment(torn, "t.seg", tail)
	require.NoError(t, err)
	require.Len(t, res.locs, 3)
	require.True(t, res.dirty)
}

// failingReader fails every read that reaches past failAt.
type failingReader struct {
	b      []byte
	failAt int64
	err    error // nil: a short read without an error
}

func (r failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.failAt {
		n := copy(p, r.b[off:max(off, r.failAt)])
		return n, r.err
	}
	return copy(p, r.b[off:]), nil
}

// TestScanReadError checks that a read error anywhere in the scan (in the
// frames, in a large frame, in the zeros after the last commit) is returned
// as an I/O error wrapping the cause, not as corruption.
func TestScanReadError(t *testing.T) {
	seg := buildSegment(2, 1, 3<<20, [][]*raft.Log{fuzzLogs(1, 2), {{Index: 3, Data: make([]byte, scanWindow+100)}}, fuzzLogs(4, 1)})
	cause := errors.New("injected EIO")
	for _, failAt := range []int64{0, 40, 200, scanWindow, scanWindow + 300, 2 << 20, int64(len(seg)) - 1} {
		for _, win := range []int{64, scanWindow} {
			for _, err := range []error{cause, nil} {
				r := failingReader{b: seg, failAt: failAt, err: err}
				_, got := newSegReader(win).scanSegmentFile(r, int64(len(seg)), "t.seg", segMeta{ID: 2, Base: 1})
				require.Error(t, got, "fail at %d, window %d", failAt, win)
				require.NotErrorIs(t, got, ErrCorrupt)
				if err != nil {
					require.ErrorIs(t, got, cause)
				} else {
					require.ErrorIs(t, got, io.ErrUnexpectedEOF)
				}
			}
		}
	}
}
