package keel_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// TestClusterStatus checks that every member's Status is populated and
// consistent with the others' once the cluster is quiet.
func TestClusterStatus(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	for i := range 20 {
		_, err := c.Member(i%3).Put(t.Context(), "k", strings.Repeat("v", 1000))
		require.NoError(t, err)
	}
	converge(t, c)
	// Sizes are those of each member's latest database commit (every
	// CommitInterval): wait until it holds the puts.
	for i, s := range c.Members() {
		deadline := time.Now().Add(keeltest.WaitLimit)
		for status(t, s).DbSizeInUse <= 20*1000 {
			require.True(t, time.Now().Before(deadline), "member %d: the 20 puts are not in use", i)
			time.Sleep(10 * time.Millisecond)
		}
	}
	leader := c.Leader()
	var term uint64
	for i, s := range c.Members() {
		st, err := s.Status(statusCtx(t), "")
		require.NoError(t, err)
		require.Equal(t, keel.ReleaseVersion, st.Version)
		require.Equal(t, leader.MemberID(), st.Leader, "member %d", i)
		require.Equal(t, leader.ID(), st.LeaderName, "member %d", i)
		require.Equal(t, s == leader, st.IsLeader, "member %d", i)
		require.False(t, st.IsLearner, "member %d", i)
		require.Positive(t, st.DbSizeInUse, "member %d", i)
		require.GreaterOrEqual(t, st.DbSize, st.DbSizeInUse, "member %d", i)
		require.EqualValues(t, 2<<30, st.DbSizeQuota, "member %d: the default quota", i)
		require.Empty(t, st.Errors, "member %d", i)
		require.Positive(t, st.RaftTerm, "member %d", i)
		require.Equal(t, st.Header.RaftTerm, st.RaftTerm, "member %d", i)
		if i > 0 {
			require.Equal(t, term, st.RaftTerm, "member %d: one term", i)
		}
		term = st.RaftTerm
		require.Positive(t, st.RaftAppliedIndex, "member %d", i)
		require.LessOrEqual(t, st.RaftAppliedIndex, st.RaftIndex, "member %d: applied <= committed", i)
		require.LessOrEqual(t, st.RaftIndex, st.RaftLastIndex, "member %d: committed <= last", i)
	}
}

// TestClusterStatusListsAlarms checks that Status reports every active
// alarm in Errors, in etcd's form, on every member.
func TestClusterStatusListsAlarms(t *testing.T) {
	c := newQuotaCluster(t)
	fillToQuota(t, c.Follower())
	waitNoSpaceAlarm(t, c, true)
	for i, s := range c.Members() {
		// Members may still be raising their alarms, never clearing them:
		// Status, after the list, reports at least the listed ones.
		alarms := noSpaceAlarms(t, s)
		st, err := s.Status(statusCtx(t), "")
		require.NoError(t, err)
		for _, a := range alarms {
			require.Contains(t, st.Errors, a.String(), "member %d", i)
			require.True(t, strings.HasPrefix(a.String(), "memberID:"), a.String())
			require.True(t, strings.HasSuffix(a.String(), " alarm:NOSPACE"), a.String())
		}
	}
}

// TestClusterHealth checks Health's answers: healthy members, then a
// member that lost its quorum (no leader), a member that left (removed)
// and a closed one (stopped).
func TestClusterHealth(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	// Once every member has served a read, each knows the leader (a
	// follower that has not heard from it yet answers ErrNoLeader, as
	// etcd's health check does).
	converge(t, c)
	for i, s := range c.Members() {
		resp, err := s.Health(statusCtx(t))
		require.NoError(t, err, "member %d", i)
		require.True(t, resp.Health, "member %d", i)
		require.Empty(t, resp.Reason, "member %d", i)
		require.Equal(t, s.MemberID(), resp.Header.MemberId)
	}

	t.Run("removed", func(t *testing.T) {
		s := c.Member(2)
		c.Leave(2)
		resp, err := s.Health(statusCtx(t))
		require.ErrorIs(t, err, keel.ErrRemoved)
		require.False(t, resp.Health)
		require.Equal(t, err.Error(), resp.Reason)
	})

	t.Run("no leader", func(t *testing.T) {
		s := c.Member(0)
		c.Stop(1) // the two remaining voters' quorum is gone
		deadline := time.Now().Add(keeltest.WaitLimit)
		for {
			// A member that still believes in a leader tries a read-index
			// round, which fails within the ctx.
			ctx := statusCtx(t)
			resp, err := s.Health(ctx)
			require.Error(t, err)
			require.False(t, resp.Health)
			require.Equal(t, err.Error(), resp.Reason)
			require.True(t, errors.Is(err, keel.ErrNoLeader) || errors.Is(err, keel.ErrTimeout), "reason %q", resp.Reason)
			if errors.Is(err, keel.ErrNoLeader) {
				break
			}
			require.True(t, time.Now().Before(deadline), "still not ErrNoLeader: %v", err)
		}
	})

	t.Run("stopped", func(t *testing.T) {
		s := c.Member(0)
		c.Stop(0)
		resp, err := s.Health(statusCtx(t))
		require.ErrorIs(t, err, keel.ErrStopped)
		require.NotErrorIs(t, err, keel.ErrRemoved)
		require.False(t, resp.Health)
	})
}
