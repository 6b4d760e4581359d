package wal_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// format1Dir is a WAL directory written in segment format 1 (before commit
// frames recorded durable offsets), by the code at commit 3da5d82:
// wal.Open(dir, wal.Config{SegmentSize: 1024}), the batches of
// format1Batches, DeleteRange(1, 3), SetUint64("CurrentTerm", 3),
// Set("LastVoteCand", "n1"), Close. Segments 1 (1..10) and 2 (11..20) are
// sealed; segment 3 (21..30) is the tail.
const format1Dir = "testdata/v1"

// format1Batches are the batches format1Dir was written with.
func format1Batches() [][]*raft.Log {
	var out [][]*raft.Log
	next := uint64(1)
	for i := range 12 {
		n := 1 + i%4
		out = append(out, makeLogs(next, n, 1+uint64(i/3)))
		next += uint64(n)
	}
	return out
}

// loadFormat1 copies format1Dir into a new faultfs, optionally editing the
// tail segment's bytes first.
func loadFormat1(tb testing.TB, editTail func([]byte)) *faultfs.FS {
	tb.Helper()
	fsys := faultfs.New()
	require.NoError(tb, fsys.MkdirAll(memDir, 0o755))
	names, err := os.ReadDir(format1Dir)
	require.NoError(tb, err)
	for _, e := range names {
		data, err := os.ReadFile(filepath.Join(format1Dir, e.Name()))
		require.NoError(tb, err)
		if e.Name() == "0000000000000003.seg" && editTail != nil {
			editTail(data)
		}
		require.NoError(tb, fsys.WriteFile(filepath.Join(memDir, e.Name()), data))
	}
	return fsys
}

func segVersionOf(tb testing.TB, fsys *faultfs.FS, seg string) uint32 {
	tb.Helper()
	data, err := fsys.ReadFile(seg)
	require.NoError(tb, err)
	return binary.LittleEndian.Uint32(data[8:12])
}

// TestOpenFormat1 opens a WAL directory written in segment format 1: it
// reads as written; its tail segment is sealed, so new batches go to a
// format 2 segment; and the tail is recovered with format 1's rules.
func TestOpenFormat1(t *testing.T) {
	want := flatten(format1Batches())[3:] // DeleteRange(1, 3)
	fsys := loadFormat1(t, nil)
	for _, seg := range segFiles(t, fsys, memDir) {
		require.Equal(t, uint32(1), segVersionOf(t, fsys, seg), seg)
	}
	w := openMem(t, fsys, 1024)
	requireLogs(t, w, want)
	term, err := w.GetUint64([]byte("CurrentTerm"))
	require.NoError(t, err)
	require.Equal(t, uint64(3), term)
	vote, err := w.Get([]byte("LastVoteCand"))
	require.NoError(t, err)
	require.Equal(t, "n1", string(vote))

	next := makeLogs(31, 3, 5)
	require.NoError(t, w.StoreLogs(next))
	require.NoError(t, w.Close())
	segs := segFiles(t, fsys, memDir)
	require.Len(t, segs, 4, "the format 1 tail was sealed; the new batch went to a new segment")
	require.Equal(t, uint32(2), segVersionOf(t, fsys, segs[3]))

	fsys.Crash() // everything above was synced
	w = openMem(t, fsys, 1024)
	requireLogs(t, w, append(slices.Clone(want), next...))
	require.NoError(t, w.DeleteRange(20, 33)) // a tail truncation into the format 1 segments
	require.NoError(t, w.StoreLogs(makeLogs(20, 2, 6)))
	require.NoError(t, w.Close())
	w = openMem(t, fsys, 1024)
	requireLogs(t, w, append(slices.Clone(want[:16]), makeLogs(20, 2, 6)...))
	require.NoError(t, w.Close())

	// Format 1 recovery rules apply to a format 1 tail: a torn suffix is
	// dropped, but damage followed by a valid frame is refused, even where
	// format 2 could tell a reordered torn write from it.
	last := format1Batches()[11] // 27..30, the last batch of the tail
	t.Run("torn suffix", func(t *testing.T) {
		fsys := loadFormat1(t, func(b []byte) {
			end := lastNonZero(b)
			clear(b[end-30:]) // inside the last commit frame
		})
		w := openMem(t, fsys, 1024)
		defer w.Close()
		requireLogs(t, w, want[:len(want)-len(last)])
	})
	t.Run("zeros followed by a valid frame", func(t *testing.T) {
		fsys := loadFormat1(t, func(b []byte) {
			end := lastNonZero(b)
			clear(b[end-48-64 : end-48]) // in the last entry frame, not its commit frame
		})
		_, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 1024})
		require.ErrorIs(t, err, wal.ErrCorrupt)
		require.ErrorContains(t, err, "followed by valid data")
	})
}
