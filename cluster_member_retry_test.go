package keel_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// MemberRemove of the leader, called on a follower, succeeds: the leader
// hands leadership away and the caller retries with the new leader
// directly. (Relayed by the old leader, the reply was lost when the old
// leader stopped on its removal, and the caller's retry then found the
// member gone: ErrMemberNotFound. The chaos suite's membership changes
// found it.)
func TestMemberRemoveLeaderThroughFollower(t *testing.T) {
	for i := range 5 {
		c := keeltest.NewCluster(t, 3)
		l, f := c.Leader(), c.Follower()
		_, err := f.MemberRemove(t.Context(), l.MemberID())
		require.NoError(t, err, "cluster %d: %s removes the leader %s", i, f.ID(), l.ID())
		for _, m := range memberList(t, c.Leader()) {
			require.NotEqual(t, l.ID(), m.Name, "cluster %d: the removed leader is still listed", i)
		}
	}
}

// A change whose reply is lost, retried while another change holds the
// change lock, is refused with ErrChangeInProgress on the retry. That
// refusal does not show the change undone: the call reports success when
// the change is made (MemberRemove, MemberPromote), and an error that
// wraps ErrTimeout (outcome unknown) otherwise, never a bare refusal.
// (The chaos suite found a removal answered ErrChangeInProgress that its
// own first attempt had made.)
func TestLostChangeReplyRetryRefused(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		learner bool
		change  func(s *keel.Store, id uint64) error
		check   func(t *testing.T, name string)
	}{
		{
			name: "promote", learner: true,
			change: func(s *keel.Store, id uint64) error { _, err := s.MemberPromote(ctx, id); return err },
			check:  func(t *testing.T, name string) { waitVoter(t, c.Leader(), name) },
		},
		{
			name:   "remove",
			change: func(s *keel.Store, id uint64) error { _, err := s.MemberRemove(ctx, id); return err },
			check: func(t *testing.T, name string) {
				for _, m := range memberList(t, c.Leader()) {
					require.NotEqual(t, name, m.Name, "removed, still listed")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := c.Join(func(cfg *keel.Config) { cfg.Learner = tc.learner })
			if !tc.learner {
				waitVoter(t, c.Leader(), c.Member(n).ID())
			}
			name, id := c.Member(n).ID(), c.Member(n).MemberID()
			l := c.Leader()
			entered, release := make(chan struct{}), make(chan struct{})
			held := make(chan error, 1)
			l.LoseNextChangeReplyThen(func() {
				// Another change takes the lock before the retry can.
				l.HoldReconfig(entered, release)
				go func() {
					_, err := l.MoveLeader(ctx, l.MemberID())
					held <- err
				}()
				<-entered
				l.HoldReconfig(nil, nil)
			})
			err := tc.change(c.Follower(), id) // one of the first three

			close(release)
			require.NoError(t, <-held, "the change that held the lock")
			require.NoError(t, err, "the change was made by the call's first attempt")
			tc.check(t, name)
			if tc.name == "remove" {
				waitErr(t, c.Member(n), keel.ErrRemoved)
				c.Forget(n)
			}
		})
	}
}

// A leader that stops while it serves a change forwarded by a follower
// answers that the leader was lost, not that the store is stopped: the
// follower's own store runs, and it retries with the next leader. (The
// chaos suite found Leave answered ErrStopped when a kill took the
// leader mid-change.)
func TestChangeLeaderStopsMidChange(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	n := c.Join(func(cfg *keel.Config) { cfg.Learner = true })
	id := c.Member(n).MemberID()
	l := c.Leader()
	f := c.Follower()
	entered, release := make(chan struct{}), make(chan struct{})
	l.HoldReconfig(entered, release)
	done := make(chan error, 1)
	go func() {
		_, err := f.MemberPromote(ctx, id)
		done <- err
	}()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	require.Eventually(t, func() bool { return l.Err() != nil }, keeltest.WaitLimit, time.Millisecond)
	close(release) // the change goes on, on a stopped leader
	require.NoError(t, <-done, "the follower's change failed")
	require.NoError(t, <-closed)
	waitVoter(t, c.Leader(), c.Member(n).ID())
}
