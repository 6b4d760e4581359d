package wal_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// lastCommit returns the end of the last batch in the newest segment file
// and the durable offset its commit frame records (format 2: the commit
// frame is the batch's last 56 bytes, the durable offset its payload's
// fourth u64). It also checks the segment's format version.
func lastCommit(tb testing.TB, fsys *faultfs.FS) (end int, durable int64) {
	tb.Helper()
	segs := segFiles(tb, fsys, memDir)
	data, err := fsys.ReadFile(segs[len(segs)-1])
	require.NoError(tb, err)
	require.Equal(tb, uint32(2), binary.LittleEndian.Uint32(data[8:12]), "segment format version")
	end = lastNonZero(data)
	c := data[end-56 : end]
	require.Equal(tb, byte(2), c[4], "commit frame type")
	require.Equal(tb, uint32(40), binary.LittleEndian.Uint32(c[8:12]), "commit payload length")
	return end, int64(binary.LittleEndian.Uint64(c[16+24:]))
}

// TestCommitRecordsDurableOffset checks the durable offset each commit
// frame records: the end of the last batch whose sync had completed when
// the batch was written (the segment header for a segment's first batch),
// across syncs, deferred syncs, a reopen, rotation and a tail truncation.
func TestCommitRecordsDurableOffset(t *testing.T) {
	t.Run("sync per batch", func(t *testing.T) {
		fsys := faultfs.New()
		w := openMem(t, fsys, 64<<10)
		prev := int64(32) // the header, synced when the segment was created
		for i := range 4 {
			require.NoError(t, w.StoreLogs(makeLogs(1+uint64(i)*3, 3, 1)))
			end, durable := lastCommit(t, fsys)
			require.Equal(t, prev, durable, "batch %d", i)
			prev = int64(end)
		}
		// Recovery syncs what it finds: the next batch records all of it.
		require.NoError(t, w.Close())
		w = openMem(t, fsys, 64<<10)
		require.NoError(t, w.StoreLogs(makeLogs(13, 1, 1)))
		_, durable := lastCommit(t, fsys)
		require.Equal(t, prev, durable, "after a reopen")

		// Rotation: a new segment's first batch records its header.
		big := makeLogs(14, 1, 1)
		big[0].Data = make([]byte, 70<<10) // larger than a segment
		require.NoError(t, w.StoreLogs(big))
		require.Len(t, segFiles(t, fsys, memDir), 2)
		_, durable = lastCommit(t, fsys)
		require.Equal(t, int64(32), durable, "first batch of a rotated segment")

		// A tail truncation seals the segment; new batches go to a new
		// one, so no commit frame ever vouches for truncated bytes.
		require.NoError(t, w.StoreLogs(makeLogs(15, 2, 1)))
		require.NoError(t, w.DeleteRange(15, 16))
		require.NoError(t, w.StoreLogs(makeLogs(15, 2, 2)))
		require.Len(t, segFiles(t, fsys, memDir), 3)
		_, durable = lastCommit(t, fsys)
		require.Equal(t, int64(32), durable, "first batch after a tail truncation")
		require.NoError(t, w.Close())
	})

	t.Run("deferred sync", func(t *testing.T) {
		fsys := faultfs.New()
		w := openDeferred(t, fsys, 64<<10)
		defer w.Close()
		require.NoError(t, w.StoreLogs(makeLogs(1, 3, 1)))
		require.NoError(t, w.WaitDurable(context.Background(), 3))
		synced, _ := lastCommit(t, fsys)

		gate := newSegSyncGate(fsys)
		defer gate.release()
		require.NoError(t, w.StoreLogs(makeLogs(4, 2, 1)))
		<-gate.entered // the background sync of 4..5 has started, not finished
		_, durable := lastCommit(t, fsys)
		require.Equal(t, int64(synced), durable)
		require.NoError(t, w.StoreLogs(makeLogs(6, 2, 1)))
		end, durable := lastCommit(t, fsys)
		require.Equal(t, int64(synced), durable, "a sync in progress covers nothing yet")
		gate.release()
		require.NoError(t, w.WaitDurable(context.Background(), 7))
		require.NoError(t, w.StoreLogs(makeLogs(8, 1, 1)))
		_, durable = lastCommit(t, fsys)
		require.Equal(t, int64(end), durable)
	})

	t.Run("no sync", func(t *testing.T) {
		fsys := faultfs.New()
		w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 64 << 10, NoSync: true})
		require.NoError(t, err)
		for i := range 3 {
			require.NoError(t, w.StoreLogs(makeLogs(1+uint64(i), 1, 1)))
			_, durable := lastCommit(t, fsys)
			require.Equal(t, int64(32), durable, "nothing is known durable without syncs")
		}
		require.NoError(t, w.Close())
	})
}
