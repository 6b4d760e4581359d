package wal

import (
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// TestScanSegment covers recovery decisions on hand-built segments whose
// frames all have valid CRCs.
func TestScanSegment(t *testing.T) {
	cases := []struct {
		name      string
		seg       []byte
		sm        segMeta
		wantErr   bool
		wantCount int
		wantDirty bool
	}{
		{"clean tail", buildSegment(1, 1, 1024, [][]*raft.Log{fuzzLogs(1, 2), fuzzLogs(3, 1)}),
			segMeta{ID: 1, Base: 1}, false, 3, false},
		{"empty tail", buildSegment(1, 5, 1024, nil), segMeta{ID: 1, Base: 5}, false, 0, false},
		{"index gap", buildSegment(1, 1, 1024, [][]*raft.Log{fuzzLogs(1, 2), fuzzLogs(4, 1)}),
			segMeta{ID: 1, Base: 1}, true, 0, false},
		{"wrong base", buildSegment(1, 1, 1024, [][]*raft.Log{fuzzLogs(2, 2)}),
			segMeta{ID: 1, Base: 1}, true, 0, false},
		{"header does not match meta", buildSegment(1, 1, 1024, nil), segMeta{ID: 2, Base: 1}, true, 0, false},
		{"frames from another segment", func() []byte {
			// The frames' CRCs are seeded with ID 9; under ID 1 none is
			// valid. They are not zero, so not a torn write either.
			b := buildSegment(9, 1, 1024, [][]*raft.Log{fuzzLogs(1, 2)})
			copy(b, encodeSegHeader(1, 1))
			return b
		}(), segMeta{ID: 1, Base: 1}, true, 0, false},
		{"format 1: frames from another segment", func() []byte {
			// Format 1 read them as torn bytes.
			b := buildSegmentVer(segVersionV1, 9, 1, 1024, [][]*raft.Log{fuzzLogs(1, 2)})
			copy(b, encodeSegHeaderVer(segVersionV1, 1, 1))
			return b
		}(), segMeta{ID: 1, Base: 1}, false, 0, true},
		{"torn sector in the last batch, its commit frame intact", func() []byte {
			b := buildSegment(1, 1, 4096, bigBatches(2))
			clear(b[1024:1536]) // inside the second entry of batch 2
			return b
		}(), segMeta{ID: 1, Base: 1}, false, 2, true},
		{"format 1: torn sector in the last batch", func() []byte {
			b := buildSegmentVer(segVersionV1, 1, 1, 4096, bigBatches(2))
			clear(b[1024:1536])
			return b
		}(), segMeta{ID: 1, Base: 1}, true, 0, false},
		{"torn sector below the durable offset", func() []byte {
			// Batch 3 records batch 2 as durable: a crash cannot tear it.
			b := buildSegment(1, 1, 8192, bigBatches(3))
			clear(b[1024:1536])
			return b
		}(), segMeta{ID: 1, Base: 1}, true, 0, false},
		{"bit flip in the last batch", func() []byte {
			b := buildSegment(1, 1, 4096, bigBatches(2))
			b[1100] ^= 4
			return b
		}(), segMeta{ID: 1, Base: 1}, true, 0, false},
		{"durable offset beyond the batch", func() []byte {
			b := buildSegment(1, 1, 1024, nil)[:segHeaderSize]
			b = appendFrame(b, 1, segHeaderSize, frameEntry, func(p []byte) []byte { return appendEntry(p, fuzzLogs(1, 1)[0]) })
			b = appendCommit(b, 1, int64(len(b)), 1, 1, segHeaderSize, segHeaderSize+8)
			return append(b, make([]byte, 512)...)
		}(), segMeta{ID: 1, Base: 1}, true, 0, false},
		{"sealed keeps only up to last", buildSegment(1, 1, 1024, [][]*raft.Log{fuzzLogs(1, 2), fuzzLogs(3, 3)}),
			segMeta{ID: 1, Base: 1, Last: 4, Sealed: true}, false, 4, false},
		{"sealed but short", buildSegment(1, 1, 1024, [][]*raft.Log{fuzzLogs(1, 2)}),
			segMeta{ID: 1, Base: 1, Last: 4, Sealed: true}, true, 0, false},
		{"torn batch", func() []byte {
			b := buildSegment(1, 1, 1024, [][]*raft.Log{fuzzLogs(1, 2), fuzzLogs(3, 3)})
			end := len(buildSegment(1, 1, 0, [][]*raft.Log{fuzzLogs(1, 2)}))
			clear(b[end+100 : end+300])
			return b
		}(), segMeta{ID: 1, Base: 1}, false, 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireSameScan(t, tc.seg, tc.sm, nil)
			res, err := scanSegment(tc.seg, "t.seg", tc.sm)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrCorrupt)
				return
			}
			require.NoError(t, err)
			require.Len(t, res.locs, tc.wantCount)
			require.Equal(t, tc.wantDirty, res.dirty)
		})
	}
}

// bigBatches returns n batches: two small entries, then batches of three
// entries of 700 bytes, so that a later batch covers whole 512-byte
// sectors (batch 2 spans offsets 216 to 2552 of the segment).
func bigBatches(n int) [][]*raft.Log {
	out := [][]*raft.Log{fuzzLogs(1, 2)}
	for next := uint64(3); len(out) < n; next += 3 {
		b := fuzzLogs(next, 3)
		for _, l := range b {
			l.Data = make([]byte, 700)
			for i := range l.Data {
				l.Data[i] = byte(i*7 + 1)
			}
		}
		out = append(out, b)
	}
	return out
}
