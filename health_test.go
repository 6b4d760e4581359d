package keel

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
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
		_, err := s.Status(ctx)
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
