package wal_test

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
)

// TestDeleteRangeCrash interrupts head, tail and full deletions at each of
// their I/O steps, simulates a power loss, and checks that the reopened log
// is exactly the pre- or the post-deletion log, and that after a tail
// truncation the deleted entries never reappear, even once new entries are
// written over their indexes.
func TestDeleteRangeCrash(t *testing.T) {
	all := makeLogs(1, 40, 1) // spans several 512-byte segments
	ranges := []struct {
		name     string
		min, max uint64
		post     []*raft.Log
	}{
		{"head", 1, 25, all[25:]},
		{"head inside first segment", 1, 2, all[2:]},
		{"tail", 13, 40, all[:12]},
		{"tail at segment start", 0, 40, nil}, // min filled in below
		{"everything", 1, 40, nil},
	}
	steps := []struct {
		name  string
		fault *faultfs.Fault // nil: the deletion succeeds, then the crash
	}{
		{"meta write fails", &faultfs.Fault{Op: faultfs.OpWrite, Pattern: "wal.meta.tmp", Err: syscall.EIO}},
		{"meta sync fails", &faultfs.Fault{Op: faultfs.OpSync, Pattern: "wal.meta.tmp", Err: syscall.EIO}},
		{"rename fails", &faultfs.Fault{Op: faultfs.OpRename, Err: syscall.EIO}},
		{"dir sync fails", &faultfs.Fault{Op: faultfs.OpSyncDir, Err: syscall.EIO}},
		{"unlink fails", &faultfs.Fault{Op: faultfs.OpRemove, Err: syscall.EIO}},
		{"completes", nil},
	}
	for _, r := range ranges {
		for _, st := range steps {
			t.Run(r.name+"/"+st.name, func(t *testing.T) {
				fsys := faultfs.New()
				w := openMem(t, fsys, 512)
				for i := 0; i < len(all); i += 5 {
					require.NoError(t, w.StoreLogs(all[i:i+5]))
				}
				min, post := r.min, r.post
				if min == 0 { // first index of the last segment
					segs := segFiles(t, fsys, memDir)
					require.Greater(t, len(segs), 2)
					min = findSegmentBase(t, fsys, len(segs)-1)
					post = all[:min-1]
				}
				if st.fault != nil {
					fsys.Inject(*st.fault)
				}
				err := w.DeleteRange(min, r.max)
				if err == nil {
					requireLogs(t, w, post)
				}
				require.NoError(t, w.Close())
				fsys.Crash()
				fsys.ClearFaults()

				w = openMem(t, fsys, 512)
				defer w.Close()
				got := dumpLogs(t, w)
				if st.fault == nil || err == nil {
					requireLogs(t, w, post)
				} else {
					require.True(t, equalLogs(got, all) || equalLogs(got, post),
						"after a failed deletion the log must be the old or the new one, got %d entries", len(got))
				}
				// Write new entries after the surviving log and reopen:
				// nothing deleted may come back.
				last, err := w.LastIndex()
				require.NoError(t, err)
				next := makeLogs(last+1, 3, 9)
				if last == 0 {
					next = makeLogs(1000, 3, 9)
				}
				require.NoError(t, w.StoreLogs(next))
				want := append(got[:len(got):len(got)], next...)
				require.NoError(t, w.Close())
				w = openMem(t, fsys, 512)
				requireLogs(t, w, want)
			})
		}
	}
}

// findSegmentBase reads the base index from the header of the n-th
// segment file (see the format in doc.go).
func findSegmentBase(tb testing.TB, fsys *faultfs.FS, n int) uint64 {
	tb.Helper()
	segs := segFiles(tb, fsys, memDir)
	data, err := fsys.ReadFile(segs[n])
	require.NoError(tb, err)
	// Segment header: magic(8) version(4) crc(4) id(8) base(8).
	return binary.LittleEndian.Uint64(data[24:32])
}

func dumpLogs(tb testing.TB, s raft.LogStore) []*raft.Log {
	tb.Helper()
	first, err := s.FirstIndex()
	require.NoError(tb, err)
	last, err := s.LastIndex()
	require.NoError(tb, err)
	var out []*raft.Log
	for i := first; first != 0 && i <= last; i++ {
		l := new(raft.Log)
		require.NoError(tb, s.GetLog(i, l))
		out = append(out, l)
	}
	return out
}

func equalLogs(a, b []*raft.Log) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Index != y.Index || x.Term != y.Term || string(x.Data) != string(y.Data) {
			return false
		}
	}
	return true
}

// TestHeadTruncationDropsSegments checks that compaction unlinks whole
// segments and keeps working across reopen.
func TestHeadTruncationDropsSegments(t *testing.T) {
	fsys := faultfs.New()
	w := openMem(t, fsys, 512)
	all := makeLogs(1, 60, 1)
	for i := 0; i < len(all); i += 3 {
		require.NoError(t, w.StoreLogs(all[i:i+3]))
	}
	before := len(segFiles(t, fsys, memDir))
	require.NoError(t, w.DeleteRange(1, 50))
	after := len(segFiles(t, fsys, memDir))
	require.Less(t, after, before, "whole segments below the new first index are removed")
	requireLogs(t, w, all[50:])
	require.NoError(t, w.Close())
	w = openMem(t, fsys, 512)
	defer w.Close()
	requireLogs(t, w, all[50:])
}
