package keel_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

func TestHashKV(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	l := c.Leader()
	var revs []int64
	for i := range 10 {
		r, err := l.Put(ctx, fmt.Sprintf("k%d", i%4), fmt.Sprintf("v%d", i))
		require.NoError(t, err)
		revs = append(revs, r.Header.Revision)
	}
	_, err := l.Delete(ctx, "k1")
	require.NoError(t, err)
	cur, err := l.Get(ctx, "k0")
	require.NoError(t, err)
	for _, s := range c.Members() {
		_, err := s.Get(ctx, "k0") // catch up
		require.NoError(t, err)
	}

	// Equal across members at every revision, whatever comes after it.
	seen := map[uint32]int64{}
	for _, rev := range append(revs, cur.Header.Revision) {
		want, err := l.HashKV(ctx, "", rev)
		require.NoError(t, err)
		require.Equal(t, rev, want.HashRevision)
		require.Equal(t, cur.Header.Revision, want.Header.Revision)
		for i, s := range c.Members() {
			h, err := s.HashKV(ctx, "", rev)
			require.NoError(t, err)
			require.Equal(t, want.Hash, h.Hash, "member %d at revision %d", i, rev)
		}
		prev, dup := seen[want.Hash]
		require.False(t, dup, "revisions %d and %d hash alike", prev, rev)
		seen[want.Hash] = rev
	}
	zero, err := l.HashKV(ctx, "", 0)
	require.NoError(t, err)
	last, err := l.HashKV(ctx, "", cur.Header.Revision)
	require.NoError(t, err)
	require.Equal(t, last.Hash, zero.Hash)
	require.Equal(t, cur.Header.Revision, zero.HashRevision)

	// Compaction: below it ErrCompacted, at it a hash.
	compactAt := revs[5]
	_, err = l.Compact(ctx, compactAt)
	require.NoError(t, err)
	for i, s := range c.Members() {
		_, err := s.Get(ctx, "k0") // apply the compaction
		require.NoError(t, err)
		_, err = s.HashKV(ctx, "", compactAt-1)
		require.ErrorIs(t, err, keel.ErrCompacted, "member %d", i)
		h, err := s.HashKV(ctx, "", compactAt)
		require.NoError(t, err, "member %d", i)
		require.Equal(t, compactAt, h.CompactRevision)
		_, err = s.HashKV(ctx, "", cur.Header.Revision+1)
		require.ErrorIs(t, err, keel.ErrFutureRev, "member %d", i)
		_, err = s.HashKV(ctx, "", -1)
		require.ErrorIs(t, err, keel.ErrInvalidOption, "member %d", i)
	}
}

// Two clusters that apply the same writes but one value hash alike up to
// the revision before it, and differently from it on.
func TestHashKVDiffersWithValue(t *testing.T) {
	ctx := t.Context()
	hashes := func(differ string) []uint32 {
		c := keeltest.NewCluster(t, 1)
		s := c.Member(0)
		var out []uint32
		for i, v := range []string{"a", "b", differ, "d"} {
			r, err := s.Put(ctx, fmt.Sprintf("k%d", i%2), v)
			require.NoError(t, err)
			h, err := s.HashKV(ctx, "", r.Header.Revision)
			require.NoError(t, err)
			out = append(out, h.Hash)
		}
		return out
	}
	x, y := hashes("c"), hashes("C")
	require.Equal(t, x[:2], y[:2])
	require.NotEqual(t, x[2], y[2])
	require.NotEqual(t, x[3], y[3])
}

// fillSnapshot writes n values of 1 KiB to s, so that its backup takes
// many reads.
func fillSnapshot(tb testing.TB, s *keel.Store, n int) {
	tb.Helper()
	for i := range n {
		_, err := s.Put(tb.Context(), fmt.Sprintf("snap/%04d", i), strings.Repeat("v", 1<<10))
		require.NoError(tb, err)
	}
}

func TestSnapshotRestores(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	fillSnapshot(t, c.Leader(), 50)
	converge(t, c)
	src := c.Follower()
	backup := snapshotBytes(t, src)
	info, err := keel.VerifyBackup(bytes.NewReader(backup))
	require.NoError(t, err)
	want, err := src.HashKV(t.Context(), "", info.Revision)
	require.NoError(t, err)
	all, err := src.Get(t.Context(), "snap/", keel.WithPrefix(), keel.WithSerializable())
	require.NoError(t, err)

	r := keeltest.NewCluster(t, 1, keeltest.WithBackup(backup)).Member(0)
	got, err := r.HashKV(t.Context(), "", info.Revision)
	require.NoError(t, err)
	require.Equal(t, want.Hash, got.Hash, "the restored history")
	restored, err := r.Get(t.Context(), "snap/", keel.WithPrefix())
	require.NoError(t, err)
	require.Equal(t, all.Kvs, restored.Kvs)
}

func TestSnapshotStopsWithContext(t *testing.T) {
	c := keeltest.NewCluster(t, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Member(0).Snapshot(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// TestSnapshotStreamEnds: the goroutine streaming a snapshot ends when
// its reader is closed early, when its ctx ends mid-stream, and when the
// Store closes with the reader open and unread; the reader then fails.
func TestSnapshotStreamEnds(t *testing.T) {
	tests := []struct {
		name string
		// stop ends the stream after the first bytes were read; it
		// returns the error later reads must wrap (nil: none are made).
		stop func(t *testing.T, s *keel.Store, rc io.ReadCloser, cancel context.CancelFunc) error
	}{
		{"reader closed", func(t *testing.T, _ *keel.Store, rc io.ReadCloser, _ context.CancelFunc) error {
			require.NoError(t, rc.Close())
			return nil
		}},
		{"ctx canceled", func(t *testing.T, _ *keel.Store, _ io.ReadCloser, cancel context.CancelFunc) error {
			cancel()
			return context.Canceled
		}},
		{"store closed", func(t *testing.T, s *keel.Store, _ io.ReadCloser, _ context.CancelFunc) error {
			require.NoError(t, s.Close()) // returns though the reader is open
			return keel.ErrStopped
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := keel.Open(keel.Config{Dir: t.TempDir()})
			require.NoError(t, err)
			defer s.Close()
			fillSnapshot(t, s, 200)
			running := goleak.IgnoreCurrent()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			rc, err := s.Snapshot(ctx)
			require.NoError(t, err)
			var b [64]byte
			_, err = io.ReadFull(rc, b[:])
			require.NoError(t, err)
			if want := tc.stop(t, s, rc, cancel); want != nil {
				// One byte at a time: the backup is far from read when
				// the stream notices.
				for err == nil {
					_, err = rc.Read(b[:1])
				}
				require.ErrorIs(t, err, want)
				require.NoError(t, rc.Close())
			}
			goleak.VerifyNone(t, running)
		})
	}
}
