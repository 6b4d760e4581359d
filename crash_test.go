package keel

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/mvcc"
)

// copyDir copies a running member's data dir, as a power cut would leave
// it: whatever the files hold at that moment.
func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	require.NoError(tb, err)
}

// TestCrashRecoveryReplaysLog copies a member's files while it runs with a
// database that has not committed anything since start (a crash before the
// lazy commit), then opens the copy: every acknowledged write must come
// back, replayed from the raft log, exactly once.
func TestCrashRecoveryReplaysLog(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	s, err := Open(Config{Dir: dir, CommitInterval: time.Hour, Logger: testLogger()})
	require.NoError(t, err)
	var lastRev int64
	for i := range 50 {
		pr, err := s.Put(ctx, fmt.Sprintf("k/%02d", i%20), fmt.Sprintf("v%d", i))
		require.NoError(t, err)
		lastRev = pr.Header.Revision
	}
	_, err = s.Delete(ctx, "k/00")
	require.NoError(t, err)
	// A proposer gets its result before its apply batch ends, and the FSM
	// records the batch's last index as applied only then.
	require.Eventually(t, func() bool { return s.kv.ConsistentIndex() == s.fsm.applied.Load() },
		10*time.Second, time.Millisecond, "applied index out of step")
	wantHash, wantRev, err := s.kv.Hash()
	require.NoError(t, err)
	require.Equal(t, lastRev+1, wantRev)

	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	require.NoError(t, s.Close())

	// The copied database really is behind: only the log has the writes.
	kv, err := mvcc.Open(filepath.Join(crashed, "kv.db"), mvcc.Config{})
	require.NoError(t, err)
	require.Less(t, kv.Rev(), wantRev, "database was committed; the test would not exercise replay")
	require.NoError(t, kv.Close())

	r, err := Open(Config{Dir: crashed, Logger: testLogger()})
	require.NoError(t, err)
	defer r.Close()
	gr, err := r.Get(ctx, "k/", WithPrefix())
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 19)
	require.Equal(t, "k/09", string(gr.Kvs[8].Key)) // written at i = 9, 29, 49
	require.Equal(t, "v49", string(gr.Kvs[8].Value))
	require.Equal(t, int64(3), gr.Kvs[8].Version)
	h, rev, err := r.kv.Hash()
	require.NoError(t, err)
	require.Equal(t, wantRev, rev)
	require.Equal(t, wantHash, h, "replayed state differs from the state before the crash")
}
