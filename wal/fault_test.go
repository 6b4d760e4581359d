package wal_test

import (
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// TestFaultFailStop injects an I/O error on the write path and checks that
// the WAL fail-stops with an error wrapping ErrFailed and the cause, that
// every later call fails, and that a reopen (after a simulated power loss,
// or without one) recovers every acknowledged batch.
func TestFaultFailStop(t *testing.T) {
	cases := []struct {
		name  string
		fault faultfs.Fault
		// op is the failing call; it runs after ackedBatches succeeded.
		op func(w *wal.WAL) error
	}{
		{"sync fails", faultfs.Fault{Op: faultfs.OpSync, Pattern: "*.seg", Err: syscall.EIO},
			func(w *wal.WAL) error { return w.StoreLogs(makeLogs(11, 3, 2)) }},
		{"write fails with ENOSPC", faultfs.Fault{Op: faultfs.OpWrite, Pattern: "*.seg", Err: syscall.ENOSPC},
			func(w *wal.WAL) error { return w.StoreLogs(makeLogs(11, 3, 2)) }},
		{"segment creation fails with ENOSPC", faultfs.Fault{Op: faultfs.OpWrite, Pattern: "*.seg", Err: syscall.ENOSPC},
			func(w *wal.WAL) error { return w.StoreLogs(makeLogs(11, 40, 2)) }}, // does not fit: rotates
		{"meta sync fails on Set", faultfs.Fault{Op: faultfs.OpSync, Pattern: "wal.meta.tmp", Err: syscall.EIO},
			func(w *wal.WAL) error { return w.SetUint64([]byte("CurrentTerm"), 9) }},
		{"meta rename fails on DeleteRange", faultfs.Fault{Op: faultfs.OpRename, Err: syscall.EIO},
			func(w *wal.WAL) error { return w.DeleteRange(1, 5) }},
		{"dir sync fails on DeleteRange", faultfs.Fault{Op: faultfs.OpSyncDir, Err: syscall.EIO},
			func(w *wal.WAL) error { return w.DeleteRange(8, 10) }},
	}
	for _, tc := range cases {
		for _, crash := range []bool{false, true} {
			name := tc.name + "/reopen"
			if crash {
				name = tc.name + "/crash"
			}
			t.Run(name, func(t *testing.T) {
				fsys := faultfs.New()
				w := openMem(t, fsys, 1024)
				acked := append(makeLogs(1, 6, 1), makeLogs(7, 4, 1)...)
				require.NoError(t, w.StoreLogs(acked[:6]))
				require.NoError(t, w.StoreLogs(acked[6:]))
				require.NoError(t, w.SetUint64([]byte("CurrentTerm"), 1))

				fsys.Inject(tc.fault)
				err := tc.op(w)
				require.ErrorIs(t, err, wal.ErrFailed)
				require.ErrorIs(t, err, tc.fault.Err, "the cause is wrapped")

				// Fail-stop: every write fails now, even without the fault;
				// reads still serve what was acknowledged.
				fsys.ClearFaults()
				require.ErrorIs(t, w.Err(), wal.ErrFailed)
				for name, err := range map[string]error{
					"StoreLogs":   w.StoreLogs(makeLogs(11, 1, 2)),
					"DeleteRange": w.DeleteRange(1, 1),
					"Set":         w.Set([]byte("k"), []byte("v")),
					"SetUint64":   w.SetUint64([]byte("k"), 1),
				} {
					require.True(t, errors.Is(err, wal.ErrFailed), "%s after fail-stop: %v", name, err)
				}
				var l raft.Log
				require.NoError(t, w.GetLog(1, &l), "acknowledged entries stay readable")
				require.Equal(t, acked[0].Data, l.Data)
				_, err = w.LastIndex()
				require.NoError(t, err)
				require.NoError(t, w.Close())

				if crash {
					fsys.Crash()
				}
				w = openMem(t, fsys, 1024)
				defer w.Close()
				first, err := w.FirstIndex()
				require.NoError(t, err)
				last, err := w.LastIndex()
				require.NoError(t, err)
				// The failed operation may or may not have taken effect
				// (it was not acknowledged), but acknowledged entries
				// that it did not delete are all there and intact.
				require.GreaterOrEqual(t, last, uint64(7))
				for _, e := range acked {
					if e.Index < first || e.Index > last {
						continue
					}
					var got raft.Log
					require.NoError(t, w.GetLog(e.Index, &got))
					require.Equal(t, *e, got)
				}
				if crash && tc.fault.Op != faultfs.OpRename && tc.fault.Op != faultfs.OpSyncDir {
					// A failed write or sync never becomes durable.
					requireLogs(t, w, acked)
				}
				u, err := w.GetUint64([]byte("CurrentTerm"))
				require.NoError(t, err)
				if crash {
					require.Equal(t, uint64(1), u)
				}
				// The reopened WAL accepts new batches.
				require.NoError(t, w.StoreLogs(makeLogs(last+1, 2, 3)))
			})
		}
	}
}

// TestOneSyncPerBatch checks group commit: one file Sync per StoreLogs.
func TestOneSyncPerBatch(t *testing.T) {
	fsys := faultfs.New()
	w := openMem(t, fsys, 1<<20)
	defer w.Close()
	// The first batch takes the spare Open preallocated (its syncs are
	// done by then); no other is made before the tail is half full.
	require.NoError(t, w.StoreLogs(makeLogs(1, 1, 1)))
	before := fsys.Count(faultfs.OpSync)
	for i := uint64(0); i < 10; i++ {
		require.NoError(t, w.StoreLogs(makeLogs(2+i*16, 16, 1)))
	}
	require.Equal(t, 10, fsys.Count(faultfs.OpSync)-before)
}

// TestNoSync checks that NoSync never syncs and still round-trips.
func TestNoSync(t *testing.T) {
	fsys := faultfs.New()
	w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 512, NoSync: true})
	require.NoError(t, err)
	logs := makeLogs(1, 30, 1)
	for _, l := range logs {
		require.NoError(t, w.StoreLog(l))
	}
	require.NoError(t, w.DeleteRange(1, 10))
	require.NoError(t, w.Close())
	require.Zero(t, fsys.Count(faultfs.OpSync))
	require.Zero(t, fsys.Count(faultfs.OpSyncDir))
	w, err = wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 512, NoSync: true})
	require.NoError(t, err)
	defer w.Close()
	requireLogs(t, w, logs[10:])
}

// TestSlowSyncDoesNotBlockReaders holds a StoreLogs fsync in flight and
// checks that readers still complete.
func TestSlowSyncDoesNotBlockReaders(t *testing.T) {
	fsys := faultfs.New()
	w := openMem(t, fsys, 1<<16)
	defer w.Close()
	logs := makeLogs(1, 5, 1)
	require.NoError(t, w.StoreLogs(logs))

	inSync := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	fsys.SetSyncHook(func(string) {
		once.Do(func() { close(inSync) })
		<-release
	})
	storeErr := make(chan error, 1)
	go func() { storeErr <- w.StoreLogs(makeLogs(6, 1, 1)) }()
	<-inSync

	type readResult struct {
		last uint64
		log  raft.Log
		err  error
	}
	readDone := make(chan readResult, 1)
	go func() {
		var r readResult
		if r.last, r.err = w.LastIndex(); r.err == nil {
			r.err = w.GetLog(5, &r.log)
		}
		readDone <- r
	}()
	select {
	case r := <-readDone:
		require.NoError(t, r.err)
		require.Equal(t, uint64(5), r.last, "the in-flight batch is not visible yet")
		require.Equal(t, *logs[4], r.log)
	case <-time.After(30 * time.Second):
		t.Error("readers blocked behind an fsync")
	}
	close(release)
	require.NoError(t, <-storeErr)
	fsys.SetSyncHook(nil)
	requireLogs(t, w, append(logs, makeLogs(6, 1, 1)...))
}
