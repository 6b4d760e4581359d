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
	// f1 alone cannot elect a leader: its writes are certainly not
	// applied, and fail with ErrNoLeader. Until f1 notices the leader is
	// gone, a write it forwards there over a connection still open ends
	// with an unknown outcome instead.
	require.Eventually(t, func() bool {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err = c.Member(f1).Put(short, "k", "v")
		return errors.Is(err, keel.ErrNoLeader)
	}, keeltest.WaitLimit, 10*time.Millisecond, "last error %v", err)
	require.NotErrorIs(t, err, keel.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestTimeoutCauses checks the ErrTimeout variants that name a cause, in
// the situations etcd returns them for: a write whose leader lost
// leadership before it committed (ErrTimeoutDueToLeaderFail), and a write
// forwarded to the leader whose connection failed before the reply came
// (ErrTimeoutDueToConnectionLost). Both are ErrTimeout: the outcome is
// unknown.
func TestTimeoutCauses(t *testing.T) {
	t.Run("leader fail", func(t *testing.T) {
		c := keeltest.NewCluster(t, 3)
		l := c.Leader()
		// Cut off, the leader accepts the put but cannot commit it, and
		// steps down once its leader lease runs out.
		c.Isolate(c.Index(l))
		_, err := l.Put(t.Context(), "k", "v")
		require.ErrorIs(t, err, keel.ErrTimeoutDueToLeaderFail)
		require.ErrorIs(t, err, keel.ErrTimeout)
	})
	t.Run("connection lost", func(t *testing.T) {
		c := keeltest.NewCluster(t, 3)
		l, f := c.Leader(), c.Follower()
		require.Eventually(t, func() bool { return f.Leader() != "" }, keeltest.WaitLimit, 10*time.Millisecond)
		// Forward a few writes first, so that f's connections to the
		// leader are open: with the replies lost, a new one could not be
		// set up.
		for range 4 {
			_, err := f.Put(t.Context(), "warm", "up")
			require.NoError(t, err)
		}
		// The leader's replies to f are lost: f's forwarded put is applied
		// (with the third member's vote), but its reply never arrives.
		c.Lose(c.Index(l), c.Index(f))
		done := make(chan error, 1)
		go func() {
			_, err := f.Put(t.Context(), "fwd", "v")
			done <- err
		}()
		require.Eventually(t, func() bool {
			r, err := l.Get(t.Context(), "fwd", keel.WithSerializable())
			return err == nil && len(r.Kvs) == 1
		}, keeltest.WaitLimit, 10*time.Millisecond)
		c.Isolate(c.Index(f)) // closes the connection the reply was due on
		err := <-done
		require.ErrorIs(t, err, keel.ErrTimeoutDueToConnectionLost)
		require.ErrorIs(t, err, keel.ErrTimeout)
		c.HealAll()
	})
}
