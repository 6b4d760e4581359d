package keel_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/chaos"
	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/keeltest"
)

// Membership changes under load. Clients on every running
// member run a put/get/delete/CAS workload on a few keys while a member
// joins (TestJoinUnderLoad: through the leader, through a follower, while
// leadership moves, while the leader restarts or crashes) or while the
// three members of a cluster are replaced one by one, each leaving or
// crashing and being removed (TestRollingReplacement). Every operation is
// recorded (internal/chaos) and the whole history must be linearizable
// (porcupine). At the end the members converge; each lists the running
// members, all voters, under the IDs they report themselves; every
// acknowledged write is in every member's final state (or superseded)
// and in its history, at the revision the write reported; and the
// members' histories are the same.
//
// Each run is a subtest named after its seed, which it also logs.
// KEEL_ROLLING_SEED=<seed>, with -run naming the case, replays its choices
// (keys, operations, which member leaves, through which members one
// joins; not the timing). KEEL_ROLLING=10m soaks: each case runs with the
// next seeds until the budget is spent. A failing run keeps its history,
// porcupine's visualization and the members' logs in the artifacts
// directory it logs.

const (
	// envRollingBudget is the soak budget, a Go duration; unset, each case
	// runs once.
	envRollingBudget = "KEEL_ROLLING"
	// envRollingSeed fixes the first run's seed.
	envRollingSeed = "KEEL_ROLLING_SEED"
)

const (
	// rollingClients is the number of clients on each running member.
	rollingClients = 2
	// rollingKeys is the size of a run's key set.
	rollingKeys = 6
	// rollingOpTimeout bounds each operation: long enough for a failover
	// under -race on two cores, so that most writes in flight during one
	// still get a definite answer.
	rollingOpTimeout = 3 * time.Second
	// rollingProgress is how many operations must complete with a definite
	// outcome between two membership changes: the load is real in every
	// phase.
	rollingProgress = 25
)

// rollingRuns runs run once with a fresh seed, or for a soak (KEEL_ROLLING)
// with successive seeds until the budget is spent, each as a subtest
// "seed=<n>".
func rollingRuns(t *testing.T, run func(t *testing.T, seed int64)) {
	t.Helper()
	cfg := chaos.LoopConfig{Runs: 1, Seed: time.Now().UnixNano(), StopOnFailure: true}
	if v := os.Getenv(envRollingSeed); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, envRollingSeed)
		cfg.Seed = s
	}
	if v := os.Getenv(envRollingBudget); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, envRollingBudget)
		cfg.Runs, cfg.Budget = 0, d
	}
	t.Logf("rolling: first seed %d (replay a run with %s=<seed>)", cfg.Seed, envRollingSeed)
	chaos.Loop(t, cfg, run)
}

func TestJoinUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("membership under load skipped in -short mode")
	}
	tests := []struct {
		name string
		// join makes a member join (and the leader change, for the cases
		// that change it) and returns its position.
		join func(r *rollingRun) int
	}{
		{"via the leader", func(r *rollingRun) int {
			return r.join([]string{r.c.Leader().Addr()})
		}},
		{"via a follower", func(r *rollingRun) int {
			return r.join([]string{r.c.Follower().Addr()})
		}},
		{"while the leader moves", func(r *rollingRun) int {
			li := r.leaderPos()
			release := r.holdJoin(r.c.Member(li))
			wait, pending := r.joinAsync(nil)
			release()
			// Leadership moves to another original member while the
			// leader admits the learner and the learner catches up.
			others := slices.DeleteFunc(r.running(), func(i int) bool { return i == li })
			to := r.c.Member(others[r.rng.Intn(len(others))])
			end := r.rec.BeginFault("move-leader", to.ID())
			r.retryMembership("move leadership to "+to.ID(), func(ctx context.Context, s *keel.Store) error {
				_, err := s.MoveLeader(ctx, to.MemberID())
				return err
			})
			end()
			r.t.Logf("rolling: leadership moved from m%d to %s (join still under way: %t)", li, to.ID(), pending())
			return wait()
		}},
		{"while the leader restarts", func(r *rollingRun) int {
			li := r.leaderPos()
			release := r.holdJoin(r.c.Member(li))
			wait, pending := r.joinAsync(nil)
			release()
			// The leader stops (handing leadership away) while it admits
			// the learner, and comes back.
			end := r.rec.BeginFault("restart", fmt.Sprintf("m%d", li))
			r.c.Stop(li)
			r.c.Restart(li)
			end()
			r.t.Logf("rolling: leader m%d stopped and restarted (join still under way: %t)", li, pending())
			return wait()
		}},
		{"while the leader crashes", func(r *rollingRun) int {
			li := r.leaderPos()
			release := r.holdJoin(r.c.Member(li))
			wait, pending := r.joinAsync(nil)
			release()
			// The leader crashes while it admits the learner, and comes
			// back.
			now := r.rec.Now()
			r.rec.Fault(chaos.FaultEvent{Kind: chaos.KillLeader, Targets: []string{fmt.Sprintf("m%d", li)}, Start: now, End: now})
			r.c.Crash(li)
			r.c.Restart(li)
			r.t.Logf("rolling: leader m%d crashed and restarted (join still under way: %t)", li, pending())
			return wait()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // at most -parallel (GOMAXPROCS) clusters at once
			rollingRuns(t, func(t *testing.T, seed int64) {
				r := newRollingRun(t, seed)
				r.progress()
				n := tc.join(r)
				r.progress()
				s := r.c.Member(n)
				waitVoter(t, s, s.ID())
				r.progress()
				r.check()
			})
		})
	}
}

func TestRollingReplacement(t *testing.T) {
	if testing.Short() {
		t.Skip("membership under load skipped in -short mode")
	}
	tests := []struct {
		name string
		// retire takes old member i out of the cluster.
		retire func(r *rollingRun, i int)
	}{
		{"leave", func(r *rollingRun, i int) {
			end := r.rec.BeginFault("leave", fmt.Sprintf("m%d", i))
			r.c.Leave(i)
			end()
		}},
		{"crash and remove", func(r *rollingRun, i int) {
			id := r.c.Member(i).MemberID()
			now := r.rec.Now()
			r.rec.Fault(chaos.FaultEvent{Kind: chaos.KillMember, Targets: []string{fmt.Sprintf("m%d", i)}, Start: now, End: now})
			r.c.Crash(i)
			end := r.rec.BeginFault("member-remove", fmt.Sprintf("m%d", i))
			r.retryMembership(fmt.Sprintf("remove m%d", i), func(ctx context.Context, s *keel.Store) error {
				_, err := s.MemberRemove(ctx, id)
				return err
			})
			end()
			r.c.Forget(i)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // at most -parallel (GOMAXPROCS) clusters at once
			rollingRuns(t, func(t *testing.T, seed int64) {
				r := newRollingRun(t, seed)
				r.progress()
				for _, old := range r.rng.Perm(3) {
					start := time.Now()
					n := r.join(r.addrs())
					s := r.c.Member(n)
					joined := time.Now()
					waitVoter(t, s, s.ID())
					promoted := time.Now()
					r.progress()
					leader := r.c.Leader().ID()
					retiring := time.Now()
					tc.retire(r, old)
					retired := time.Now()
					r.stopClients(old)
					r.progress()
					t.Logf("rolling: %s replaced m%d (leader %s): joined in %v, promoted in %v, m%d out in %v",
						s.ID(), old, leader, joined.Sub(start).Round(time.Millisecond), promoted.Sub(joined).Round(time.Millisecond),
						old, retired.Sub(retiring).Round(time.Millisecond))
				}
				r.check()
				for _, i := range r.running() {
					require.GreaterOrEqual(t, i, 3, "an original member still runs")
				}
			})
		})
	}
}

// TestJoinInterruptedByLeaderCrash: a join whose member record committed
// but whose raft change (AddNonvoter) did not, because the leader crashed
// in between, must leave one record for the member, under the ID it
// reports. TestJoinUnderLoad's "while the leader crashes" case found that
// it did not: the next leader committed the record, the joiner's retry
// did not find it (a named record without a raft server is not listed)
// and, its proposed ID being taken, got a new one. The stale record
// stayed, and where it sorted first, every member listed the member under
// the stale ID, MemberRemove of its MemberID failed with
// ErrMemberNotFound, and on its next restart the member was told it had
// been removed (the IDs differ) and stopped, while raft kept it as a voter.
//
// The leader's fsyncs are slow, so the record's entry is in the followers'
// logs, not yet committed, when the leader crashes. A second record shows
// only when its ID sorts first, half the time: the test makes two
// attempts, or eight with KEEL_ROLLING set.
func TestJoinInterruptedByLeaderCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("membership under load skipped in -short mode")
	}
	attempts := 2
	if os.Getenv(envRollingBudget) != "" {
		attempts = 8
	}
	for attempt := range attempts {
		t.Run(fmt.Sprintf("attempt=%d", attempt), joinInterruptedByLeaderCrash)
		if t.Failed() {
			return
		}
	}
}

// joinInterruptedByLeaderCrash runs one attempt.
func joinInterruptedByLeaderCrash(t *testing.T) {
	fss := make([]*faultfs.FS, 3)
	c := keeltest.NewCluster(t, 3, keeltest.WithConfig(func(i int, cfg *keel.Config) {
		fss[i] = faultfs.New()
		cfg.WALFS, cfg.WALSegmentSize = fss[i], 256<<10
	}))
	ctx := t.Context()
	li := c.Index(c.Leader())
	f := (li + 1) % 3
	// The leader's fsyncs are slow: it writes the record's entry and
	// replicates it at once (the WAL syncs in the background), but can
	// count its own copy, and so commit the entry, only two seconds later.
	fss[li].SetSyncDelay(2 * time.Second)

	l := c.Member(li)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	l.HoldReconfig(entered, release)
	type result struct {
		n   int
		err error
	}
	joined := make(chan result, 1)
	go func() {
		n, err := c.JoinErr(nil)
		joined <- result{n, err}
	}()
	<-entered
	before := status(t, c.Member(f)).RaftLastIndex
	l.HoldReconfig(nil, nil)
	close(release)
	// The record's entry reaches a follower (nothing else is written
	// meanwhile) while the leader waits for its own fsync.
	waitCtx, cancel := context.WithTimeout(ctx, keeltest.WaitLimit)
	defer cancel()
	for status(t, c.Member(f)).RaftLastIndex == before {
		select {
		case <-waitCtx.Done():
			t.Fatalf("the member record never reached m%d", f)
		case <-time.After(time.Millisecond):
		}
	}
	c.Crash(li)
	fss[li].SetSyncDelay(0)
	res := <-joined
	require.NoError(t, res.err)
	s := c.Member(res.n)
	c.Restart(li)
	waitVoter(t, s, s.ID())

	var listed uint64
	for _, m := range memberList(t, c.Member(f)) {
		if m.Name == s.ID() {
			listed = m.ID
		}
	}
	require.Equal(t, s.MemberID(), listed, "%s's ID in the member list (a stale record?)", s.ID())
	// It restarts on its Dir and stays: the cluster does not tell it that
	// it was removed.
	c.Restart(res.n)
	s = c.Member(res.n)
	require.Never(t, func() bool { return s.Err() != nil }, 3*keeltest.HeartbeatTimeout, 20*time.Millisecond,
		"%s stopped after a restart", s.ID())
	_, err := c.Member(f).MemberRemove(ctx, s.MemberID())
	require.NoError(t, err, "removing %s by its MemberID", s.ID())
	c.Forget(res.n)
}
