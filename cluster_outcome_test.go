package keel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// TestUnknownOutcomeIsReported stops both followers of a 3-member cluster:
// a write the leader proposes can no longer commit, so when its context
// expires the caller must hear "outcome unknown" (ErrTimeout), never
// success or a definite failure. Once the quorum is back, the entry may
// commit after all, which is exactly why it was reported as unknown.
func TestUnknownOutcomeIsReported(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	_, err := c.Member(0).Put(ctx, "warm", "up")
	require.NoError(t, err)
	l := c.Leader()
	f1, f2 := (c.Index(l)+1)%3, (c.Index(l)+2)%3
	c.Stop(f1)
	c.Stop(f2)

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = l.Put(short, "k", "v")
	require.Error(t, err)
	require.True(t, errors.Is(err, keel.ErrTimeout) || errors.Is(err, keel.ErrNoLeader), "got %v", err)
	if errors.Is(err, keel.ErrNoLeader) {
		// The leader stepped down before the put was proposed: nothing was
		// written, and the error must say so.
		require.NotErrorIs(t, err, keel.ErrTimeout)
	}

	// With no quorum, reads cannot be confirmed either.
	short2, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	_, err = l.Get(short2, "warm")
	require.Error(t, err)
	require.True(t, errors.Is(err, keel.ErrTimeout) || errors.Is(err, keel.ErrNoLeader), "got %v", err)
	// Serializable reads still work from local state.
	gr, err := l.Get(ctx, "warm", keel.WithSerializable())
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 1)

	c.Restart(f1)
	c.Restart(f2)
	_, err = l.Put(ctx, "after", "quorum")
	require.NoError(t, err)
	converge(t, c)
}

func TestNoLeaderOnIsolatedFollower(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	_, err := c.Member(0).Put(ctx, "warm", "up")
	require.NoError(t, err)
	l := c.Index(c.Leader())
	f1, f2 := (l+1)%3, (l+2)%3
	// Crash-stop (no leadership hand-over): first a follower, so the leader
	// keeps its quorum meanwhile, then the leader.
	c.Crash(f2)
	c.Crash(l)
	// f1 alone cannot elect a leader: its writes are certainly not applied.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = c.Member(f1).Put(short, "k", "v")
	require.ErrorIs(t, err, keel.ErrNoLeader)
	require.NotErrorIs(t, err, keel.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
