package wal

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// buildSegment encodes batches into a segment image of the given size, the
// way StoreLogs does without Config.DeferSync: each commit frame records
// the start of its batch as durable (the previous batch was synced).
func buildSegment(id, base uint64, size int, batches [][]*raft.Log) []byte {
	return buildSegmentVer(segVersion, id, base, size, batches)
}

// buildSegmentVer is buildSegment in segment format ver.
func buildSegmentVer(ver uint32, id, base uint64, size int, batches [][]*raft.Log) []byte {
	b := encodeSegHeaderVer(ver, id, base)
	for _, batch := range batches {
		start := int64(len(b))
		for _, l := range batch {
			b = appendFrame(b, id, int64(len(b)), frameEntry, func(p []byte) []byte { return appendEntry(p, l) })
		}
		b = appendCommitVer(b, ver, id, int64(len(b)), commitRec{first: batch[0].Index, count: uint64(len(batch)), batchStart: start, durable: start})
	}
	if len(b) < size {
		b = append(b, make([]byte, size-len(b))...)
	}
	return b
}

func fuzzLogs(start uint64, n int) []*raft.Log {
	out := make([]*raft.Log, n)
	for i := range out {
		idx := start + uint64(i)
		out[i] = &raft.Log{Index: idx, Term: 2, Type: raft.LogCommand, Data: []byte("payload"),
			AppendedAt: time.Unix(int64(idx), 5)}
	}
	return out
}

// FuzzScanSegment feeds arbitrary bytes to segment recovery (frame
// decoding): it must never panic or over-allocate, whatever it accepts
// must be well-formed, contiguous and in bounds, and the windowed scan must
// agree exactly with the whole-segment reference at every window size.
func FuzzScanSegment(f *testing.F) {
	seg := buildSegment(7, 10, 512, [][]*raft.Log{fuzzLogs(10, 2), fuzzLogs(12, 1), fuzzLogs(13, 3)})
	f.Add(seg, uint64(7), uint64(10), false, uint64(0))
	f.Add(seg, uint64(7), uint64(10), true, uint64(12))
	f.Add(seg[:200], uint64(7), uint64(10), false, uint64(0))
	f.Add(seg[:segHeaderSize], uint64(7), uint64(10), false, uint64(0))
	bad := append([]byte(nil), seg...)
	binary.LittleEndian.PutUint32(bad[segHeaderSize+8:], 0xFFFFFFF0) // forged length
	f.Add(bad, uint64(7), uint64(10), false, uint64(0))
	f.Add([]byte{}, uint64(1), uint64(1), false, uint64(0))
	// Format 1, and format 2 tails torn in a sector, below or above the
	// durable offset, and with a bit flipped in the last batch.
	f.Add(buildSegmentVer(segVersionV1, 7, 10, 512, [][]*raft.Log{fuzzLogs(10, 2), fuzzLogs(12, 1)}), uint64(7), uint64(10), false, uint64(0))
	for _, n := range []int{2, 3} {
		torn := buildSegment(7, 1, 4096, bigBatches(n))
		clear(torn[1024:1536])
		f.Add(torn, uint64(7), uint64(1), false, uint64(0))
	}
	flipped := buildSegment(7, 1, 4096, bigBatches(2))
	flipped[1100] ^= 4
	f.Add(flipped, uint64(7), uint64(1), false, uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, id, base uint64, sealed bool, last uint64) {
		sm := segMeta{ID: id, Base: base, Sealed: sealed, Last: last}
		requireSameScan(t, b, sm, nil)
		res, err := scanSegment(b, "fuzz.seg", sm)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		require.LessOrEqual(t, res.writeOff, int64(len(b)))
		prev := int64(-1)
		for i, loc := range res.locs {
			require.Greater(t, loc.off, prev)
			prev = loc.off
			end := loc.off + frameHeaderSize + int64(loc.n)
			require.LessOrEqual(t, end, int64(len(b)))
			buf := b[loc.off:end]
			require.True(t, frameOK(buf, id, loc))
			var l raft.Log
			require.NoError(t, decodeEntry(append([]byte(nil), buf[frameHeaderSize:]...), &l))
			require.Equal(t, base+uint64(i), l.Index)
		}
		if sealed {
			require.Equal(t, last-base+1, uint64(len(res.locs)))
		}
	})
}

// FuzzTornTail checks recovery against the crash model: it builds a
// format 2 tail segment from random batches (seed), of which the last
// 1..3 (unsynced) were written after the last completed sync, with the
// durable offsets StoreLogs would record (the earlier batches each synced
// before the next was written, the unsynced ones recording the end of the
// last synced batch), then loses the 512-byte sectors of the unsynced
// bytes that lost selects (bit i for the i-th sector, cycling): a lost
// sector keeps its synced bytes and reads as the preallocated zeros
// elsewhere. Recovery must never report corruption and must return
// exactly the batches whose bytes all survived: every synced batch, then
// a complete prefix of the others.
func FuzzTornTail(f *testing.F) {
	f.Add(uint64(1), uint8(0), []byte{0x01})
	f.Add(uint64(2), uint8(1), []byte{0x5a, 0x0f})
	f.Add(uint64(3), uint8(2), []byte{0xfe})
	f.Add(uint64(4), uint8(2), []byte{})
	f.Fuzz(func(t *testing.T, seed uint64, unsynced uint8, lost []byte) {
		rng := rand.New(rand.NewPCG(seed, 0))
		const id, base = 3, 100
		b := encodeSegHeader(id, base)
		next := uint64(base)
		nb := 1 + rng.IntN(6)
		k := 1 + int(unsynced)%min(3, nb) // unsynced batches
		var ends []int
		var synced int64 = segHeaderSize // the end of the last synced batch
		for i := range nb {
			start := int64(len(b))
			if i <= nb-k {
				synced = start // each batch before was synced before the next was written
			}
			n := 1 + rng.IntN(4)
			for range n {
				l := &raft.Log{Index: next, Term: 2, Type: raft.LogCommand, Data: make([]byte, rng.IntN(1500))}
				if rng.IntN(3) > 0 {
					for j := range l.Data {
						l.Data[j] = byte(rng.Uint32())
					}
				}
				b = appendFrame(b, id, int64(len(b)), frameEntry, func(p []byte) []byte { return appendEntry(p, l) })
				next++
			}
			b = appendCommit(b, id, int64(len(b)), next-uint64(n), uint64(n), start, synced)
			ends = append(ends, len(b))
		}
		final := append(b, make([]byte, 8192)...)
		img := bytes.Clone(final)
		for i, sec := 0, synced&^(sectorSize-1); sec < int64(len(img)); i, sec = i+1, sec+sectorSize {
			if len(lost) > 0 && lost[(i/8)%len(lost)]&(1<<(i%8)) != 0 {
				clear(img[max(sec, synced):min(sec+sectorSize, int64(len(img)))])
			}
		}
		intact, start := 0, segHeaderSize
		for intact < nb && bytes.Equal(img[start:ends[intact]], final[start:ends[intact]]) {
			start = ends[intact]
			intact++
		}
		require.GreaterOrEqual(t, intact, nb-k, "bad fixture: a synced batch was lost")
		sm := segMeta{ID: id, Base: base}
		requireSameScan(t, img, sm, nil)
		res, err := scanSegment(img, "t.seg", sm)
		require.NoError(t, err, "a torn write was taken for damage")
		wantEnd := int64(segHeaderSize)
		if intact > 0 {
			wantEnd = int64(ends[intact-1])
		}
		require.Equal(t, wantEnd, res.writeOff, "recovered batches")
		require.Equal(t, !allZero(img[wantEnd:]), res.dirty)
		var l raft.Log
		for i, loc := range res.locs {
			require.NoError(t, decodeEntry(bytes.Clone(img[loc.off+frameHeaderSize:loc.off+frameHeaderSize+int64(loc.n)]), &l))
			require.Equal(t, base+uint64(i), l.Index)
		}
	})
}

// FuzzDecodeEntry checks that entry decoding never panics and that what
// it accepts round-trips through the encoder.
func FuzzDecodeEntry(f *testing.F) {
	for _, l := range []*raft.Log{
		{Index: 1, Term: 1},
		{Index: 2, Term: 3, Type: raft.LogConfiguration, Data: []byte("x"), Extensions: []byte{}, AppendedAt: time.Unix(9, 9)},
		fuzzLogs(5, 1)[0],
	} {
		f.Add(appendEntry(nil, l))
	}
	f.Add(make([]byte, entryFixedSize))
	f.Fuzz(func(t *testing.T, p []byte) {
		var l raft.Log
		if err := decodeEntry(append([]byte(nil), p...), &l); err != nil {
			return
		}
		var l2 raft.Log
		require.NoError(t, decodeEntry(appendEntry(nil, &l), &l2))
		require.Equal(t, l, l2)
	})
}

// FuzzDecodeMeta checks that meta decoding never panics or over-allocates
// and that what it accepts round-trips.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(meta{NextSegID: 1}))
	f.Add(encodeMeta(meta{
		FirstIndex: 5, NextSegID: 9,
		Segs:  []segMeta{{ID: 3, Base: 1, Last: 10, Sealed: true}, {ID: 8, Base: 11}},
		KV:    map[string][]byte{"LastVoteCand": []byte("n1"), "": {}},
		KVInt: map[string]uint64{"CurrentTerm": 4},
	}))
	bad := encodeMeta(meta{NextSegID: 2, Segs: []segMeta{{ID: 1, Base: 1}}})
	binary.LittleEndian.PutUint32(bad[metaHeaderSize+16:], 0xFFFFFFFF) // forged count
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		m2, err := decodeMeta(encodeMeta(m))
		require.NoError(t, err)
		require.Equal(t, m, m2)
	})
}

// TestScanRejectsForgedLength is a regression test for a forged frame
// length: it must not allocate or read past the segment.
func TestScanRejectsForgedLength(t *testing.T) {
	seg := buildSegment(1, 1, 1024, [][]*raft.Log{fuzzLogs(1, 2), fuzzLogs(3, 2)})
	binary.LittleEndian.PutUint32(seg[segHeaderSize+8:], 0xFFFFFFF0)
	_, err := scanSegment(seg, "x.seg", segMeta{ID: 1, Base: 1})
	require.ErrorIs(t, err, ErrCorrupt)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "x.seg", ce.File)
	require.Equal(t, int64(segHeaderSize), ce.Offset)
}
