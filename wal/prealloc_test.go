package wal_test

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// createCountingFS counts the segment files created under their own name
// (createSegment, which zero-fills on the caller's goroutine), as opposed
// to spares renamed into place.
type createCountingFS struct {
	wal.FS
	created atomic.Int64
}

func (c *createCountingFS) OpenFile(name string, flag int, perm os.FileMode) (wal.File, error) {
	if flag&os.O_CREATE != 0 && filepath.Ext(name) == ".seg" {
		c.created.Add(1)
	}
	return c.FS.OpenFile(name, flag, perm)
}

// waitSpare waits (generously) until w has a preallocated spare segment.
func waitSpare(tb testing.TB, w *wal.WAL) {
	tb.Helper()
	require.Eventually(tb, w.SpareReady, 10*time.Second, time.Millisecond, "no spare segment was preallocated")
}

// TestRotationUsesPreallocatedSegment checks that, with a spare ready,
// starting a segment creates no segment file on the write path (the spare,
// zero-filled in the background, is renamed into place), that a fresh
// spare follows each use, and that the data reads back after a reopen.
func TestRotationUsesPreallocatedSegment(t *testing.T) {
	const segSize = 64 << 10
	fsys := &createCountingFS{FS: faultfs.New()}
	cfg := wal.Config{FS: fsys, SegmentSize: segSize}
	w, err := wal.Open(memDir, cfg)
	require.NoError(t, err)
	defer func() { w.Close() }()

	var want []*raft.Log
	store := func(l *raft.Log) int64 {
		waitSpare(t, w)
		before := fsys.created.Load()
		require.NoError(t, w.StoreLogs([]*raft.Log{l}))
		want = append(want, l)
		return fsys.created.Load() - before
	}
	// The first segment and two rotations, each taking the spare.
	var idx uint64
	for seg := 0; seg < 3; seg++ {
		idx++
		n := store(&raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: make([]byte, 40<<10)})
		require.Zero(t, n, "segment %d was created on the write path", seg+1)
	}
	segs := segFiles(t, fsys, memDir)
	require.Len(t, segs, 3, "each 40 KiB batch needs its own 64 KiB segment")

	require.NoError(t, w.Close())
	w, err = wal.Open(memDir, cfg)
	require.NoError(t, err)
	requireLogs(t, w, want)
}

// TestOversizedBatchKeepsSpare checks that a batch larger than a segment
// gets a segment of its own (the spare is too small) and that the spare is
// still used by the next ordinary rotation.
func TestOversizedBatchKeepsSpare(t *testing.T) {
	const segSize = 4 << 10
	fsys := &createCountingFS{FS: faultfs.New()}
	w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: segSize})
	require.NoError(t, err)
	defer w.Close()
	waitSpare(t, w)
	require.NoError(t, w.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Data: make([]byte, 3*segSize)}}))
	require.Equal(t, int64(1), fsys.created.Load(), "the oversized batch gets a segment of its own")
	require.True(t, w.SpareReady(), "the spare is kept for a segment it fits")
	require.NoError(t, w.StoreLogs([]*raft.Log{{Index: 2, Term: 1, Data: []byte("small")}}))
	require.Equal(t, int64(1), fsys.created.Load(), "the next rotation takes the spare")
	requireLogs(t, w, []*raft.Log{{Index: 1, Term: 1, Data: make([]byte, 3*segSize)}, {Index: 2, Term: 1, Data: []byte("small")}})
}

// TestSpareFileLifecycle checks that Close removes the spare file and that
// Open removes one left behind by a crash, and that neither is mistaken for
// a segment.
func TestSpareFileLifecycle(t *testing.T) {
	fsys := faultfs.New()
	spare := filepath.Join(memDir, "next.seg.tmp")
	w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 1 << 10})
	require.NoError(t, err)
	waitSpare(t, w)
	require.NoError(t, w.StoreLogs(makeLogs(1, 3, 1)))
	require.NoError(t, w.Close())
	names, err := fsys.ReadDir(memDir)
	require.NoError(t, err)
	require.NotContains(t, names, "next.seg.tmp", "Close removes the spare")

	// A crash leaves a spare behind (durable, since it was synced).
	require.NoError(t, fsys.WriteFile(spare, make([]byte, 1<<10)))
	w, err = wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 1 << 10})
	require.NoError(t, err)
	defer w.Close()
	requireLogs(t, w, makeLogs(1, 3, 1))
	require.NoError(t, w.StoreLogs(makeLogs(4, 2, 1)))
	requireLogs(t, w, makeLogs(1, 5, 1))
}

// TestSpareOnlyOnceTailIsHalfFull checks when the next segment is
// preallocated: for an empty log (its first batch needs a segment), then
// not again until the new tail segment is half full.
func TestSpareOnlyOnceTailIsHalfFull(t *testing.T) {
	const segSize = 64 << 10
	fsys := faultfs.New()
	w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: segSize})
	require.NoError(t, err)
	defer func() { w.Close() }()
	waitSpare(t, w) // an empty log wants one

	require.NoError(t, w.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Data: make([]byte, 8<<10)}}))
	require.False(t, w.SpareReady(), "the first segment took the spare")
	require.NoError(t, w.StoreLogs([]*raft.Log{{Index: 2, Term: 1, Data: make([]byte, 8<<10)}}))
	require.False(t, w.SpareReady(), "a tail a quarter full wants no spare")
	names, err := fsys.ReadDir(memDir)
	require.NoError(t, err)
	require.NotContains(t, names, "next.seg.tmp")

	require.NoError(t, w.StoreLogs([]*raft.Log{{Index: 3, Term: 1, Data: make([]byte, 20<<10)}}))
	waitSpare(t, w) // past half: the next rotation is near

	// Reopening a WAL whose tail is past half prepares the next one too.
	require.NoError(t, w.Close())
	w, err = wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: segSize})
	require.NoError(t, err)
	waitSpare(t, w)
}

// gatedSpareFS holds every write to the spare file until gate closes.
type gatedSpareFS struct {
	createCountingFS
	gate chan struct{}
}

type gatedFile struct {
	wal.File
	gate <-chan struct{}
}

func (f gatedFile) WriteAt(p []byte, off int64) (int, error) {
	<-f.gate
	return f.File.WriteAt(p, off)
}

func (g *gatedSpareFS) OpenFile(name string, flag int, perm os.FileMode) (wal.File, error) {
	f, err := g.createCountingFS.OpenFile(name, flag, perm)
	if err == nil && filepath.Base(name) == "next.seg.tmp" {
		f = gatedFile{File: f, gate: g.gate}
	}
	return f, err
}

// TestFirstBatchWaitsForSpare checks that a fresh WAL's first batch takes
// the spare Open started rather than zero-filling a segment of its own
// beside it (two segments' zeros at once, which slowed the batches written
// meanwhile). The spare is held back until the batch is stored or a
// generous pause has passed: a WAL that does not wait creates a segment
// file at once.
func TestFirstBatchWaitsForSpare(t *testing.T) {
	fsys := &gatedSpareFS{createCountingFS: createCountingFS{FS: faultfs.New()}, gate: make(chan struct{})}
	w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 64 << 10})
	require.NoError(t, err)
	defer func() { w.Close() }()
	stored := make(chan error, 1)
	go func() { stored <- w.StoreLogs(makeLogs(1, 3, 1)) }()
	var err2 error
	select {
	case err2 = <-stored:
		close(fsys.gate)
	case <-time.After(200 * time.Millisecond):
		close(fsys.gate)
		err2 = <-stored
	}
	require.NoError(t, err2)
	require.Zero(t, fsys.created.Load(), "the first batch created a segment beside the spare")
	requireLogs(t, w, makeLogs(1, 3, 1))
}
