package wal

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// buildSegment encodes batches into a segment image of the given size, the
// way StoreLogs does.
func buildSegment(id, base uint64, size int, batches [][]*raft.Log) []byte {
	b := encodeSegHeader(id, base)
	for _, batch := range batches {
		start := int64(len(b))
		for _, l := range batch {
			b = appendFrame(b, id, int64(len(b)), frameEntry, func(p []byte) []byte { return appendEntry(p, l) })
		}
		b = appendCommit(b, id, int64(len(b)), batch[0].Index, uint64(len(batch)), start)
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
