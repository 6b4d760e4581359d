package keel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

const (
	// quotaTestBytes is the members' quota in the quota tests: an empty
	// database has 16 KiB in use, and fillValue puts fill it in about 60
	// writes.
	quotaTestBytes = 1 << 20
	fillKeys       = 8
)

var fillValue = strings.Repeat("v", 16<<10)

// newQuotaCluster starts a 3-member cluster whose members have a quota of
// quotaTestBytes.
func newQuotaCluster(tb testing.TB) *keeltest.Cluster {
	return keeltest.NewCluster(tb, 3, keeltest.WithConfig(func(_ int, cfg *keel.Config) {
		cfg.QuotaBytes = quotaTestBytes
	}))
}

// fillToQuota overwrites fillKeys keys with fillValue through s (history
// accumulates) until a put fails with ErrNoSpace, and returns how many
// succeeded.
func fillToQuota(tb testing.TB, s *keel.Store) int {
	tb.Helper()
	for i := range 20 * quotaTestBytes / len(fillValue) {
		_, err := s.Put(tb.Context(), fmt.Sprintf("fill/%d", i%fillKeys), fillValue)
		if errors.Is(err, keel.ErrNoSpace) {
			return i
		}
		require.NoError(tb, err)
	}
	tb.Fatalf("%d puts of %d bytes never hit a quota of %d", 20*quotaTestBytes/len(fillValue), len(fillValue), quotaTestBytes)
	return 0
}

// noSpaceAlarms returns the NOSPACE alarms s lists.
func noSpaceAlarms(tb testing.TB, s *keel.Store) []*keel.AlarmMember {
	tb.Helper()
	resp, err := s.AlarmList(tb.Context())
	require.NoError(tb, err)
	var out []*keel.AlarmMember
	for _, a := range resp.Alarms {
		if a.Alarm == keel.AlarmNoSpace {
			out = append(out, a)
		}
	}
	return out
}

// waitNoSpaceAlarm waits until every running member of c lists a NOSPACE
// alarm (active) or none (!active).
func waitNoSpaceAlarm(tb testing.TB, c *keeltest.Cluster, active bool) {
	tb.Helper()
	deadline := time.Now().Add(keeltest.WaitLimit)
	for {
		done := true
		for _, s := range c.Members() {
			if s != nil && (len(noSpaceAlarms(tb, s)) > 0) != active {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("NOSPACE alarms still not active=%v after %v", active, keeltest.WaitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requireCapped checks, on every running member, that writes adding data
// fail with ErrNoSpace while reads, deletes, revokes and txns that do not
// put work; a txn that would put and delete leaves no trace.
func requireCapped(tb testing.TB, c *keeltest.Cluster, lease keel.LeaseID) {
	tb.Helper()
	ctx := tb.Context()
	for i, s := range c.Members() {
		if s == nil {
			continue
		}
		_, err := s.Put(ctx, "small", "x")
		require.ErrorIs(tb, err, keel.ErrNoSpace, "member %d: a small put", i)
		_, err = s.Grant(ctx, 60)
		require.ErrorIs(tb, err, keel.ErrNoSpace, "member %d: grant", i)
		_, err = s.Txn(ctx).If(keel.Compare(keel.Version("keep"), ">", 0)).
			Then(keel.OpDelete("keep"), keel.OpPut("trace", "x")).Commit()
		require.ErrorIs(tb, err, keel.ErrNoSpace, "member %d: a txn that puts", i)
		// (A txn that could put in a branch it does not take is refused
		// too, before it is proposed, while it would not fit: see
		// TestApplyCappedByNoSpace for apply's rule.)
		tr, err := s.Txn(ctx).If(keel.Compare(keel.Version("keep"), "=", 0)).
			Then(keel.OpDelete("nothing")).Else(keel.OpGet("keep")).Commit()
		require.NoError(tb, err, "member %d: a txn that does not put", i)
		require.False(tb, tr.Succeeded)

		gr, err := s.Get(ctx, "fill/", keel.WithPrefix(), keel.WithKeysOnly())
		require.NoError(tb, err, "member %d: get", i)
		require.NotEmpty(tb, gr.Kvs)
	}
	_, err := c.Follower().Delete(ctx, fmt.Sprintf("fill/%d", fillKeys-1))
	require.NoError(tb, err, "delete")
	_, err = c.Leader().Revoke(ctx, lease)
	require.NoError(tb, err, "revoke")
}

// waitWritable retries a put through s until it succeeds; until then it
// may fail only with ErrNoSpace.
func waitWritable(tb testing.TB, s *keel.Store) {
	tb.Helper()
	deadline := time.Now().Add(keeltest.WaitLimit)
	for {
		_, err := s.Put(tb.Context(), "after", "x")
		if err == nil {
			return
		}
		require.ErrorIs(tb, err, keel.ErrNoSpace)
		if time.Now().After(deadline) {
			tb.Fatalf("writes still fail after %v: %v", keeltest.WaitLimit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterQuota fills a cluster to its quota: writes that add data fail
// with ErrNoSpace on every member while reads, deletes, revokes and
// compaction work. Compaction alone then frees enough pages that every
// member clears its alarm itself and writes succeed again, with no other
// call. The cases change leaders while the alarm holds and while it
// clears.
func TestClusterQuota(t *testing.T) {
	tests := []struct {
		name string
		// whileHeld runs while the alarm holds; whileClearing right after
		// the compaction that lets it clear.
		whileHeld, whileClearing func(t *testing.T, c *keeltest.Cluster)
	}{
		{
			name: "manual disarm does not outlast the cause",
			whileHeld: func(t *testing.T, c *keeltest.Cluster) {
				resp, err := c.Follower().AlarmDisarm(t.Context(), nil)
				require.NoError(t, err)
				require.NotEmpty(t, resp.Alarms)
				// The members still over their quota raise it again.
				waitNoSpaceAlarm(t, c, true)
			},
		},
		{
			name: "leader crashes while the alarm holds",
			whileHeld: func(t *testing.T, c *keeltest.Cluster) {
				old := c.Index(c.Leader())
				c.Crash(old)
				l := c.Leader()
				_, err := l.Put(t.Context(), "small", "x")
				require.ErrorIs(t, err, keel.ErrNoSpace, "the alarm is replicated state")
				c.Restart(old)
			},
		},
		{
			name: "leadership moves while the alarm clears",
			whileClearing: func(t *testing.T, c *keeltest.Cluster) {
				_, err := c.Leader().MoveLeader(t.Context(), c.Follower().MemberID())
				require.NoError(t, err)
			},
		},
		{
			name: "leader crashes while the alarm clears",
			whileClearing: func(t *testing.T, c *keeltest.Cluster) {
				old := c.Index(c.Leader())
				c.Crash(old)
				c.Restart(old)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newQuotaCluster(t)
			ctx := t.Context()
			_, err := c.Leader().Put(ctx, "keep", "1")
			require.NoError(t, err)
			lease, err := c.Leader().Grant(ctx, 60)
			require.NoError(t, err)

			n := fillToQuota(t, c.Follower())
			t.Logf("%d puts of %d bytes filled the quota", n, len(fillValue))
			waitNoSpaceAlarm(t, c, true)
			requireCapped(t, c, lease.ID)
			if tc.whileHeld != nil {
				tc.whileHeld(t, c)
				waitNoSpaceAlarm(t, c, true)
			}

			rev := status(t, c.Leader()).Header.Revision
			_, err = c.Follower().Compact(ctx, rev, keel.WithCompactPhysical())
			require.NoError(t, err)
			if tc.whileClearing != nil {
				tc.whileClearing(t, c)
			}
			waitWritable(t, c.Follower())
			waitNoSpaceAlarm(t, c, false)
			for i, s := range c.Members() {
				st := status(t, s)
				require.LessOrEqual(t, st.DbSizeInUse, int64(quotaTestBytes), "member %d", i)
				require.Empty(t, st.Errors, "member %d", i)
			}
			// Defragment gives the pages compaction freed back to the file
			// system; writes go on.
			for i, s := range c.Members() {
				before := status(t, s).DbSize
				_, err := s.Defragment(ctx, "")
				require.NoError(t, err, "member %d", i)
				require.Less(t, status(t, s).DbSize, before, "member %d: the file shrank", i)
			}
			_, err = c.Follower().Put(ctx, "after-defrag", "1")
			require.NoError(t, err)

			converge(t, c)
			for i, s := range c.Members() {
				gr, err := s.Get(ctx, "keep", keel.WithSerializable())
				require.NoError(t, err)
				require.Len(t, gr.Kvs, 1, "member %d: the refused txn deleted nothing", i)
				gr, err = s.Get(ctx, "trace", keel.WithSerializable())
				require.NoError(t, err)
				require.Empty(t, gr.Kvs, "member %d: the refused txn put nothing", i)
			}
		})
	}
}

// TestClusterNoQuota checks that a negative QuotaBytes disables the quota.
func TestClusterNoQuota(t *testing.T) {
	c := keeltest.NewCluster(t, 1, keeltest.WithConfig(func(_ int, cfg *keel.Config) {
		cfg.QuotaBytes = -1
	}))
	s := c.Leader()
	for i := range 4 {
		_, err := s.Put(t.Context(), fmt.Sprintf("big/%d", i), strings.Repeat("v", 1<<20))
		require.NoError(t, err)
	}
	st := status(t, s)
	require.Zero(t, st.DbSizeQuota)
	require.Empty(t, noSpaceAlarms(t, s))
}

// statusCtx returns a context for one status or health call.
func statusCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
