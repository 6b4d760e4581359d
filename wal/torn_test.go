package wal_test

import (
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// lastNonZero returns the offset just past the last non-zero byte of b.
// Every batch ends with a commit frame whose last byte is non-zero, so after
// a batch this is the end of that batch.
func lastNonZero(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return i + 1
		}
	}
	return 0
}

// tornFixture writes batches into one segment of a faultfs and returns the
// closed file system, the segment name, the batches and the end offset of
// each batch in the segment.
func tornFixture(tb testing.TB, batches [][]*raft.Log) (*faultfs.FS, string, []int) {
	tb.Helper()
	fsys := faultfs.New()
	w := openMem(tb, fsys, 4096)
	var ends []int
	for _, b := range batches {
		require.NoError(tb, w.StoreLogs(b))
		segs := segFiles(tb, fsys, memDir)
		require.Len(tb, segs, 1, "fixture must fit in one segment")
		data, err := fsys.ReadFile(segs[0])
		require.NoError(tb, err)
		ends = append(ends, lastNonZero(data))
	}
	require.NoError(tb, w.Close())
	return fsys, segFiles(tb, fsys, memDir)[0], ends
}

func fixtureBatches() [][]*raft.Log {
	return [][]*raft.Log{
		makeLogs(1, 3, 1),
		makeLogs(4, 1, 1),
		makeLogs(5, 4, 2),
		makeLogs(9, 3, 2),
	}
}

func flatten(batches [][]*raft.Log) []*raft.Log {
	var out []*raft.Log
	for _, b := range batches {
		out = append(out, b...)
	}
	return out
}

// TestTornTail cuts the active segment at every byte offset within the last
// two batches and checks that reopening yields exactly the batches that
// were complete before the cut, and that the WAL then accepts the next
// batch and keeps it across another reopen.
func TestTornTail(t *testing.T) {
	batches := fixtureBatches()
	base, seg, ends := tornFixture(t, batches)
	full, err := base.ReadFile(seg)
	require.NoError(t, err)
	from := ends[len(ends)-3]

	cases := []struct {
		name string
		cut  func(data []byte, at int) []byte
	}{
		{"truncated file", func(data []byte, at int) []byte { return data[:at] }},
		{"zero filled", func(data []byte, at int) []byte {
			out := make([]byte, len(data))
			copy(out, data[:at])
			return out
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for at := from; at <= ends[len(ends)-1]; at++ {
				complete := 0
				for complete < len(batches) && ends[complete] <= at {
					complete++
				}
				want := flatten(batches[:complete])

				fsys := base.Clone()
				require.NoError(t, fsys.WriteFile(seg, tc.cut(full, at)))
				w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 4096})
				require.NoError(t, err, "cut at %d", at)
				requireLogs(t, w, want)

				next := makeLogs(want[len(want)-1].Index+1, 2, 3)
				require.NoError(t, w.StoreLogs(next), "cut at %d", at)
				require.NoError(t, w.Close())
				w, err = wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 4096})
				require.NoError(t, err, "reopen after cut at %d", at)
				requireLogs(t, w, append(want[:len(want):len(want)], next...))
				require.NoError(t, w.Close())
			}
		})
	}
}

// TestBitFlips flips every bit of a small segment, one at a time. Flips in
// acknowledged data must make Open fail with ErrCorrupt; any other flip
// (in the torn, unacknowledged tail or in unwritten space) may also be
// reported as ErrCorrupt or recover exactly the acknowledged batches. Open
// never returns wrong data.
func TestBitFlips(t *testing.T) {
	cases := []struct {
		name string
		// build returns the file system, the segment to flip, the entries
		// that must be recovered and the end of the acknowledged data in it.
		build func(t *testing.T) (*faultfs.FS, string, []*raft.Log, int)
	}{
		{"tail segment with torn batch", func(t *testing.T) (*faultfs.FS, string, []*raft.Log, int) {
			batches := fixtureBatches()
			fsys, seg, ends := tornFixture(t, batches)
			data, err := fsys.ReadFile(seg)
			require.NoError(t, err)
			acked := ends[len(ends)-2]
			// Tear the last batch in the middle: it was never acknowledged.
			torn := acked + (ends[len(ends)-1]-acked)/2
			clear(data[torn:])
			require.NoError(t, fsys.WriteFile(seg, data[:1024]))
			return fsys, seg, flatten(batches[:len(batches)-1]), acked
		}},
		{"sealed segment", func(t *testing.T) (*faultfs.FS, string, []*raft.Log, int) {
			fsys := faultfs.New()
			w := openMem(t, fsys, 512)
			var all []*raft.Log
			for i := uint64(0); i < 6; i++ {
				b := makeLogs(1+i*2, 2, 1)
				require.NoError(t, w.StoreLogs(b))
				all = append(all, b...)
			}
			require.NoError(t, w.Close())
			segs := segFiles(t, fsys, memDir)
			require.Greater(t, len(segs), 1, "fixture must rotate")
			data, err := fsys.ReadFile(segs[0])
			require.NoError(t, err)
			return fsys, segs[0], all, lastNonZero(data)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, seg, want, acked := tc.build(t)
			orig, err := base.ReadFile(seg)
			require.NoError(t, err)
			corrupt, recovered := 0, 0
			for bit := 0; bit < len(orig)*8; bit++ {
				fsys := base.Clone()
				data := append([]byte(nil), orig...)
				data[bit/8] ^= 1 << (bit % 8)
				require.NoError(t, fsys.WriteFile(seg, data))
				w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 4096})
				if err != nil {
					require.ErrorIs(t, err, wal.ErrCorrupt, "bit %d", bit)
					var ce *wal.CorruptError
					require.ErrorAs(t, err, &ce)
					corrupt++
					continue
				}
				require.GreaterOrEqual(t, bit/8, acked, "flip of bit %d in acknowledged data was not detected", bit)
				requireLogs(t, w, want)
				require.NoError(t, w.Close())
				recovered++
			}
			t.Logf("%d flips: %d ErrCorrupt, %d recovered", len(orig)*8, corrupt, recovered)
			require.GreaterOrEqual(t, corrupt, acked*8)
		})
	}
}
