package wal_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/wal"
)

// fillSegments writes batches of 64 entries of dataSize bytes into a new WAL
// in dir until it has segs segment files, the last one about half full,
// and closes it. It returns the number of entries written.
func fillSegments(tb testing.TB, dir string, segSize int64, segs, dataSize int) uint64 {
	tb.Helper()
	w, err := wal.Open(dir, wal.Config{SegmentSize: segSize, NoSync: true})
	require.NoError(tb, err)
	data := make([]byte, dataSize)
	for i := range data {
		data[i] = byte(i*7 + 1)
	}
	const batch = 64
	perSeg := segSize / int64(frameCost(dataSize))
	total := uint64(int64(segs-1)*perSeg + perSeg/2)
	logs := make([]*raft.Log, batch)
	next := uint64(1)
	for next <= total {
		for i := range logs {
			logs[i] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: data}
			next++
		}
		require.NoError(tb, w.StoreLogs(logs))
	}
	require.NoError(tb, w.Close())
	require.Len(tb, segFiles(tb, wal.OSFS{}, dir), segs)
	return next - 1
}

// frameCost approximates the bytes one entry with dataSize bytes of data
// takes in a segment (frame header, entry header, data, padding, and its
// share of the commit frame of a 64-entry batch).
func frameCost(dataSize int) int {
	return (16+38+dataSize+7)&^7 + 1
}

// BenchmarkOpen measures Open (recovery) of a WAL with N segments on the
// real file system (page cache warm), with NoSync so that only the scan is
// measured. Every segment but the last is full; the last is half full, the
// rest of it preallocated zeros.
func BenchmarkOpen(b *testing.B) {
	for _, tc := range []struct {
		segs    int
		segSize int64
	}{
		{1, wal.DefaultSegmentSize},
		{4, wal.DefaultSegmentSize},
		{16, 8 << 20},
	} {
		b.Run(fmt.Sprintf("segs=%d/size=%dMiB", tc.segs, tc.segSize>>20), func(b *testing.B) {
			dir := b.TempDir()
			n := fillSegments(b, dir, tc.segSize, tc.segs, 256)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w, err := wal.Open(dir, wal.Config{SegmentSize: tc.segSize, NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				if last, _ := w.LastIndex(); last != n {
					b.Fatalf("last index %d, want %d", last, n)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
