package keel_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

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
		want, err := l.HashKV(ctx, rev)
		require.NoError(t, err)
		require.Equal(t, rev, want.HashRevision)
		require.Equal(t, cur.Header.Revision, want.Header.Revision)
		for i, s := range c.Members() {
			h, err := s.HashKV(ctx, rev)
			require.NoError(t, err)
			require.Equal(t, want.Hash, h.Hash, "member %d at revision %d", i, rev)
		}
		prev, dup := seen[want.Hash]
		require.False(t, dup, "revisions %d and %d hash alike", prev, rev)
		seen[want.Hash] = rev
	}
	zero, err := l.HashKV(ctx, 0)
	require.NoError(t, err)
	last, err := l.HashKV(ctx, cur.Header.Revision)
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
		_, err = s.HashKV(ctx, compactAt-1)
		require.ErrorIs(t, err, keel.ErrCompacted, "member %d", i)
		h, err := s.HashKV(ctx, compactAt)
		require.NoError(t, err, "member %d", i)
		require.Equal(t, compactAt, h.CompactRevision)
		_, err = s.HashKV(ctx, cur.Header.Revision+1)
		require.ErrorIs(t, err, keel.ErrFutureRev, "member %d", i)
		_, err = s.HashKV(ctx, -1)
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
			h, err := s.HashKV(ctx, r.Header.Revision)
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

func TestSnapshotStopsWithContext(t *testing.T) {
	c := keeltest.NewCluster(t, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var buf bytes.Buffer
	_, err := c.Member(0).Snapshot(ctx, &buf)
	require.ErrorIs(t, err, context.Canceled)
}
