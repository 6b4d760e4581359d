package wal_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/wal"
)

// TestOpenMemoryBounded checks that recovery reads segments through a
// bounded buffer: opening a WAL of five 8 MiB segments (four full, the
// tail half full and the rest preallocated zeros) allocates far less than
// one segment in total, not the size of the WAL.
func TestOpenMemoryBounded(t *testing.T) {
	const segSize = 8 << 20
	dir := t.TempDir()
	n := fillSegments(t, dir, segSize, 5, 4096)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, err := wal.Open(dir, wal.Config{SegmentSize: segSize, NoSync: true})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	defer w.Close()
	last, err := w.LastIndex()
	require.NoError(t, err)
	require.Equal(t, n, last)

	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Open of %d entries in 5 segments of %d MiB allocated %d KiB", n, segSize>>20, alloc>>10)
	// Open may also start preallocating the next segment (the tail is past
	// half), whose goroutine allocates its 1 MiB zero buffer meanwhile.
	const spareBuffer = 1 << 20
	require.Less(t, alloc, uint64(segSize/4+spareBuffer), "recovery allocated %d bytes", alloc)
}
