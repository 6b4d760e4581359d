package keel

import (
	"context"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// TestFailedFsyncStopsMember makes the raft log's fsync fail: the member
// must stop (calls return ErrStopped) rather than run on a log it cannot
// trust, and reopening after a crash recovers every acknowledged write.
func TestFailedFsyncStopsMember(t *testing.T) {
	fsys, cfg, s := openOnFaultFS(t)
	ctx := testCtx(t)
	fsys.Inject(faultfs.Fault{Op: faultfs.OpSync, Err: syscall.EIO})
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := s.Put(short, "d", "d")
	require.Error(t, err, "a write whose fsync failed must not be acknowledged")

	require.Eventually(t, func() bool {
		_, err := s.Status(ctx, "")
		return err != nil
	}, 10*time.Second, 20*time.Millisecond, "member kept running on a failed log")
	_, err = s.Put(ctx, "e", "e")
	require.ErrorIs(t, err, ErrStopped)
	require.NoError(t, s.Close())

	fsys.ClearFaults()
	fsys.Crash()
	s, err = Open(cfg)
	require.NoError(t, err)
	defer s.Close()
	gr, err := s.Get(ctx, "", WithPrefix())
	require.NoError(t, err)
	got := keys(gr.Kvs)
	require.Subset(t, got, []string{"a", "b", "c"})
	require.NotContains(t, got, "e")
}

// openOnFaultFS opens a single-member store whose raft log is on a
// faultfs and writes the keys a, b and c to it.
func openOnFaultFS(tb testing.TB) (*faultfs.FS, Config, *Store) {
	tb.Helper()
	fsys := faultfs.New()
	cfg := Config{Dir: tb.TempDir(), WALFS: fsys, WALSegmentSize: 1 << 20, Logger: testLogger()}
	s, err := Open(cfg)
	require.NoError(tb, err)
	for _, k := range []string{"a", "b", "c"} {
		_, err := s.Put(testCtx(tb), k, k)
		require.NoError(tb, err)
	}
	return fsys, cfg, s
}

// TestUnreadableLogFailsOpen makes a raft log read fail as raft starts:
// raft reads the last entry, then the entries after its last snapshot,
// and panics on one of the latter it cannot read. Open must return the
// read error instead, and succeed once the disk reads again.
func TestUnreadableLogFailsOpen(t *testing.T) {
	tests := []struct {
		name string
		skip int // reads after the WAL's own open scan that succeed
	}{
		{name: "last entry", skip: 0},
		{name: "configuration scan", skip: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys, cfg, s := openOnFaultFS(t)
			ctx := testCtx(t)
			require.NoError(t, s.Close())

			// The WAL's open scan makes the same reads on a copy of the disk.
			clone := fsys.Clone()
			w, err := wal.Open(filepath.Join(cfg.Dir, "wal"), wal.Config{FS: clone, SegmentSize: 1 << 20})
			require.NoError(t, err)
			require.NoError(t, w.Close())
			fsys.Inject(faultfs.Fault{Op: faultfs.OpRead, After: clone.Count(faultfs.OpRead) + tc.skip, Times: 1, Err: syscall.EIO})

			_, err = Open(cfg)
			require.ErrorIs(t, err, syscall.EIO)

			fsys.ClearFaults()
			s, err = Open(cfg)
			require.NoError(t, err)
			defer s.Close()
			gr, err := s.Get(ctx, "", WithPrefix())
			require.NoError(t, err)
			require.Equal(t, []string{"a", "b", "c"}, keys(gr.Kvs))
		})
	}
}

func TestFailSafeStableKeepsVotesFailing(t *testing.T) {
	fsys := faultfs.New()
	w, err := wal.Open("/wal", wal.Config{FS: fsys, SegmentSize: 1 << 16})
	require.NoError(t, err)
	defer w.Close()
	st := failSafeStable{WAL: w, log: slog.New(slog.DiscardHandler)}
	require.NoError(t, st.SetUint64([]byte(termKey), 1))
	fsys.Inject(faultfs.Fault{Op: faultfs.OpSync, Err: syscall.EIO})
	require.ErrorIs(t, w.SetUint64([]byte("x"), 1), wal.ErrFailed)
	fsys.ClearFaults()

	require.NoError(t, st.SetUint64([]byte(termKey), 2), "raft would panic on this error")
	require.ErrorIs(t, st.SetUint64([]byte("LastVoteTerm"), 2), wal.ErrFailed, "votes must still fail")
	require.ErrorIs(t, st.Set([]byte("LastVoteCand"), []byte("m1")), wal.ErrFailed)
	term, err := st.GetUint64([]byte(termKey))
	require.NoError(t, err)
	require.Equal(t, uint64(1), term, "the unpersisted term is not reported as stored")
}

// blockedFuture is a raft.Future that answers only once released, as
// raft's leadership-transfer future does once its main loop takes it.
type blockedFuture struct{ release chan struct{} }

func (f blockedFuture) Error() error {
	<-f.release
	return nil
}

// TestAwaitTransferEnds waits on a transfer raft does not answer (its
// main loop ended on a storage failure): the wait ends with ctx, or when
// the member stops, instead of never.
func TestAwaitTransferEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, cancel context.CancelFunc, s *Store)
		want error
	}{
		{name: "ctx ends", end: func(_ *testing.T, cancel context.CancelFunc, _ *Store) { cancel() }, want: ErrTimeout},
		{name: "member stops", end: func(t *testing.T, _ context.CancelFunc, s *Store) { require.NoError(t, s.Close()) }, want: ErrStopped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openSingle(t)
			defer s.Close()
			f := blockedFuture{release: make(chan struct{})}
			defer close(f.release) // raft answers at last: the waiter ends
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.awaitTransfer(ctx, f) }()
			tc.end(t, cancel, s)
			require.ErrorIs(t, <-done, tc.want)
		})
	}
}
