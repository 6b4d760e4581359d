package lock_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
	"github.com/keeldb/keel/lock"
	"github.com/stretchr/testify/require"
)

// TestElectionHandover runs three candidates on the three members of a
// cluster. Leadership must pass in campaign order, through a resignation,
// a closed session and a session whose keepalive stopped (its lease
// expires); each leader learns when it lost leadership; fencing tokens
// (Rev) strictly increase; Observe follows every leader.
func TestElectionHandover(t *testing.T) {
	stores := keeltest.NewCluster(t, 3).Members()
	ctx := testCtx(t)
	const n = 3
	sessions := make([]*lock.Session, n)
	elections := make([]*lock.Election, n)
	done := make([]chan error, n)
	names := []string{"a", "b", "c"}
	for i := range n {
		sessions[i] = newSession(t, stores[i], lock.WithTTL(1)) // raised to the cluster minimum
		elections[i] = lock.NewElection(sessions[i], "svc")
	}
	_, err := elections[0].Leader(ctx)
	require.ErrorIs(t, err, lock.ErrElectionNoLeader)

	octx, ocancel := context.WithCancel(ctx)
	defer ocancel()
	observed := elections[2].Observe(octx)

	for i := range n {
		done[i] = make(chan error, 1)
		go func() { done[i] <- elections[i].Campaign(ctx, names[i]) }()
		waitKeys(t, stores[0], "svc/", int64(i+1))
	}
	nextObserved := func() string {
		t.Helper()
		select {
		case r, ok := <-observed:
			require.True(t, ok, "Observe closed")
			return string(r.Kvs[0].Value)
		case <-time.After(waitLimit):
			t.Fatal("Observe delivered nothing")
			return ""
		}
	}
	ends := []func(){
		func() { require.NoError(t, elections[0].Resign(ctx)) },
		func() { sessions[1].Orphan() }, // stops renewing: the lease expires after its TTL
	}
	var lastRev int64
	for i := range n {
		require.NoError(t, result(t, done[i], fmt.Sprintf("candidate %d", i)))
		e := elections[i]
		require.Greater(t, e.Rev(), lastRev, "fencing tokens increase")
		lastRev = e.Rev()
		require.False(t, closed(e.Done()))
		lr, err := elections[(i+1)%n].Leader(ctx)
		require.NoError(t, err)
		require.Equal(t, names[i], string(lr.Kvs[0].Value))
		require.Equal(t, names[i], nextObserved())
		for j := i + 1; j < n; j++ {
			select {
			case err := <-done[j]:
				t.Fatalf("candidate %d elected (err %v) while %d leads", j, err, i)
			default:
			}
		}
		if i < len(ends) {
			ends[i]()
			require.Eventually(t, func() bool { return closed(e.Done()) }, waitLimit, 10*time.Millisecond, "leader %d did not learn it lost", i)
			require.ErrorIs(t, e.Proclaim(ctx, "late"), []error{lock.ErrElectionNotLeader, lock.ErrSessionExpired}[i])
		}
	}
	// The last leader proclaims a new value; observers see it.
	require.NoError(t, elections[2].Proclaim(ctx, "c2"))
	require.Equal(t, "c2", nextObserved())
	resp, err := stores[0].Txn(ctx).If(elections[2].IsLeader()).Then(keel.OpPut("owned-by-leader", "c")).Commit()
	require.NoError(t, err)
	require.True(t, resp.Succeeded)
	require.NoError(t, elections[2].Resign(ctx))
	require.True(t, closed(elections[2].Done()), "Done is closed when Resign returns")
	ocancel()
	for range observed {
	}
}

func TestElectionLeaderLearnsLoss(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, st *keel.Store, s *lock.Session, e *lock.Election)
	}{
		{"key deleted by someone else", func(t *testing.T, st *keel.Store, _ *lock.Session, e *lock.Election) {
			_, err := st.Delete(t.Context(), e.Key())
			require.NoError(t, err)
		}},
		{"lease revoked", func(t *testing.T, st *keel.Store, s *lock.Session, _ *lock.Election) {
			_, err := st.Revoke(t.Context(), s.Lease())
			require.NoError(t, err)
		}},
		{"session closed", func(t *testing.T, _ *keel.Store, s *lock.Session, _ *lock.Election) {
			require.NoError(t, s.Close())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			ctx := testCtx(t)
			s := newSession(t, st, lock.WithTTL(3))
			e := lock.NewElection(s, "el")
			require.NoError(t, e.Campaign(ctx, "me"))
			require.NotNil(t, e.Header())
			require.False(t, closed(e.Done()))
			tc.end(t, st, s, e)
			require.Eventually(t, func() bool { return closed(e.Done()) }, waitLimit, 10*time.Millisecond)
			err := e.Proclaim(ctx, "still me?")
			require.True(t, err != nil, "Proclaim after losing leadership must fail")
		})
	}
}

func TestCampaignAbortedWhenSessionEnds(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	leader := lock.NewElection(newSession(t, st), "e")
	require.NoError(t, leader.Campaign(ctx, "first"))
	s := newSession(t, st, lock.WithTTL(1))
	e := lock.NewElection(s, "e")
	done := make(chan error, 1)
	go func() { done <- e.Campaign(ctx, "second") }()
	waitKeys(t, st, "e/", 2)
	_, err := st.Revoke(ctx, s.Lease())
	require.NoError(t, err)
	require.ErrorIs(t, result(t, done, "Campaign after its session ended"), lock.ErrSessionExpired)
	require.True(t, closed(e.Done()))
	require.NoError(t, e.Resign(ctx), "nothing to resign")
	require.NoError(t, leader.Resign(ctx))
}

func TestCampaignCanceledWithdraws(t *testing.T) {
	st := openStore(t)
	leader := lock.NewElection(newSession(t, st), "w")
	require.NoError(t, leader.Campaign(testCtx(t), "first"))
	ctx, cancel := context.WithCancel(t.Context())
	e := lock.NewElection(newSession(t, st), "w")
	done := make(chan error, 1)
	go func() { done <- e.Campaign(ctx, "second") }()
	waitKeys(t, st, "w/", 2)
	cancel()
	require.ErrorIs(t, result(t, done, "canceled Campaign"), context.Canceled)
	waitKeys(t, st, "w/", 1)
}

func TestElectionMisuse(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	s := newSession(t, st)
	tests := []struct {
		name string
		err  error
		run  func() error
	}{
		{"proclaim before campaign", lock.ErrElectionNotLeader, func() error { return lock.NewElection(s, "m").Proclaim(ctx, "v") }},
		{"resign before campaign", nil, func() error { return lock.NewElection(s, "m").Resign(ctx) }},
		{"empty prefix campaign", lock.ErrEmptyPrefix, func() error { return lock.NewElection(s, "").Campaign(ctx, "v") }},
		{"empty prefix leader", lock.ErrEmptyPrefix, func() error { _, err := lock.NewElection(s, "").Leader(ctx); return err }},
		{"no leader", lock.ErrElectionNoLeader, func() error { _, err := lock.NewElection(s, "m").Leader(ctx); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if tc.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.err)
		})
	}
}

func TestCampaignTwiceProclaims(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	e := lock.NewElection(newSession(t, st), "t")
	require.NoError(t, e.Campaign(ctx, "v1"))
	rev := e.Rev()
	require.NoError(t, e.Campaign(ctx, "v2"))
	require.Equal(t, rev, e.Rev(), "same candidacy")
	lr, err := e.Leader(ctx)
	require.NoError(t, err)
	require.Equal(t, "v2", string(lr.Kvs[0].Value))
	require.False(t, closed(e.Done()))
	require.NoError(t, e.Resign(ctx))
}

// TestResumeElection checks that an Election resumed from an earlier
// one's Key and Rev leads: it proclaims, observes the same keys as
// NewElection on the same prefix, learns when the leadership ends and
// resigns; and that a stale resumption (the key was replaced) is refused.
func TestResumeElection(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	g, err := st.Grant(ctx, 30)
	require.NoError(t, err)
	first := newSession(t, st, lock.WithLease(g.ID))
	e := lock.NewElection(first, "resume")
	require.NoError(t, e.Campaign(ctx, "v1"))
	key, rev := e.Key(), e.Rev()
	first.Orphan() // a restart: the lease lives on

	s := newSession(t, st, lock.WithLease(g.ID))
	r := lock.ResumeElection(s, "resume", key, rev)
	require.Equal(t, key, r.Key())
	require.Equal(t, rev, r.Rev())
	require.False(t, closed(r.Done()))
	require.NoError(t, r.Proclaim(ctx, "v2"))
	lr, err := r.Leader(ctx)
	require.NoError(t, err)
	require.Equal(t, "v2", string(lr.Kvs[0].Value))
	require.Equal(t, key, string(lr.Kvs[0].Key))

	// Someone else takes the key over: the resumed leadership is gone.
	_, err = st.Delete(ctx, key)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return closed(r.Done()) }, waitLimit, 10*time.Millisecond)
	require.ErrorIs(t, r.Proclaim(ctx, "v3"), lock.ErrElectionNotLeader)
	require.NoError(t, r.Resign(ctx), "nothing left to resign")

	stale := lock.ResumeElection(s, "resume", key, rev)
	require.NoError(t, lock.NewElection(newSession(t, st), "resume").Campaign(ctx, "other"))
	require.ErrorIs(t, stale.Proclaim(ctx, "mine"), lock.ErrElectionNotLeader)
}

// TestResignAfterLoss checks etcd's rule that resigning a leadership that
// was already lost is not an error.
func TestResignAfterLoss(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	e := lock.NewElection(newSession(t, st), "lost")
	require.NoError(t, e.Campaign(ctx, "v"))
	_, err := st.Delete(ctx, e.Key())
	require.NoError(t, err)
	require.NoError(t, e.Resign(ctx))
	require.Equal(t, "", e.Key())
	require.True(t, closed(e.Done()))
}
