package keel

import (
	"context"
	"log/slog"
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
	fsys := faultfs.New()
	dir := t.TempDir()
	cfg := Config{Dir: dir, WALFS: fsys, WALSegmentSize: 1 << 20, Logger: testLogger()}
	s, err := Open(cfg)
	require.NoError(t, err)
	ctx := testCtx(t)
	for _, k := range []string{"a", "b", "c"} {
		_, err := s.Put(ctx, k, k)
		require.NoError(t, err)
	}
	fsys.Inject(faultfs.Fault{Op: faultfs.OpSync, Err: syscall.EIO})
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = s.Put(short, "d", "d")
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
