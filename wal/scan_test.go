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
			// valid, so they read as torn bytes, not as entries.
			b := buildSegment(9, 1, 1024, [][]*raft.Log{fuzzLogs(1, 2)})
			copy(b, encodeSegHeader(1, 1))
			return b
		}(), segMeta{ID: 1, Base: 1}, false, 0, true},
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
