package keel_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// memberList returns s's linearizable member list.
func memberList(tb testing.TB, s *keel.Store) []*keel.Member {
	tb.Helper()
	ml, err := s.MemberList(tb.Context())
	require.NoError(tb, err)
	return ml.Members
}

// voters returns the names of the voters and of the learners in ms.
func voters(ms []*keel.Member) (v, l []string) {
	for _, m := range ms {
		if m.IsLearner {
			l = append(l, m.Name)
		} else {
			v = append(v, m.Name)
		}
	}
	return v, l
}

// waitVoter waits until s's member list shows name as a voter.
func waitVoter(tb testing.TB, s *keel.Store, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), keeltest.WaitLimit)
	defer cancel()
	for {
		ml, err := s.MemberList(ctx)
		if err == nil {
			for _, m := range ml.Members {
				if m.Name == name && !m.IsLearner {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("%s was not promoted to voter: %v (last list error: %v)", name, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestJoinPromoteLeave(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	for i := range 20 {
		_, err := c.Member(i%3).Put(ctx, fmt.Sprintf("k%02d", i), "v")
		require.NoError(t, err)
	}
	// Join addresses may be host names, resolved at each dial.
	_, port, err := net.SplitHostPort(c.Member(1).Addr())
	require.NoError(t, err)
	n := c.Join(func(cfg *keel.Config) { cfg.Join = []string{net.JoinHostPort("localhost", port)} })
	joined := c.Member(n)
	require.NotZero(t, joined.MemberID())
	// It serves at once: a linearizable read sees every write before.
	gr, err := joined.Get(ctx, "k", keel.WithPrefix(), keel.WithCountOnly())
	require.NoError(t, err)
	require.EqualValues(t, 20, gr.Count)
	waitVoter(t, c.Member(0), "m3")
	v, l := voters(memberList(t, joined))
	require.ElementsMatch(t, []string{"m0", "m1", "m2", "m3"}, v)
	require.Empty(t, l)

	// Restarted on its Dir, it is what it was (Join is ignored).
	id := joined.MemberID()
	c.Restart(n)
	joined = c.Member(n)
	require.Equal(t, id, joined.MemberID())
	require.False(t, status(t, joined).IsLearner)

	// The new member writes, through the leader.
	_, err = joined.Put(ctx, "from-m3", "x")
	require.NoError(t, err)

	// The leader leaves: leadership moves first, the rest go on.
	li := c.Index(c.Leader())
	c.Leave(li)
	v, _ = voters(memberList(t, joined))
	require.Len(t, v, 3)
	require.NotContains(t, v, fmt.Sprintf("m%d", li))
	_, err = joined.Put(ctx, "after-leave", "y")
	require.NoError(t, err)
	converge(t, c)
}

func TestMemberAddReservesAnAddress(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	f := c.Follower()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	tests := []struct {
		name    string
		addrs   []string
		wantErr error
	}{
		{"no address", nil, keel.ErrInvalidPeerURL},
		{"two addresses", []string{addr, "127.0.0.1:1"}, keel.ErrInvalidPeerURL},
		{"no port", []string{"127.0.0.1"}, keel.ErrInvalidPeerURL},
		{"a member's address", []string{c.Member(0).Addr()}, keel.ErrPeerURLExists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.MemberAdd(ctx, tc.addrs)
			require.ErrorIs(t, err, tc.wantErr)
		})
	}

	// An etcd-style peer URL works; the reservation is listed, unnamed.
	ar, err := f.MemberAddAsLearner(ctx, []string{"http://127.0.0.1:1"})
	require.NoError(t, err)
	require.Equal(t, "", ar.Member.Name)
	require.True(t, ar.Member.IsLearner)
	require.Len(t, ar.Members, 4)
	_, err = f.MemberAdd(ctx, []string{"127.0.0.1:1"})
	require.ErrorIs(t, err, keel.ErrPeerURLExists)
	_, err = f.MemberUpdate(ctx, ar.Member.ID, []string{addr})
	require.NoError(t, err)
	_, err = f.MemberUpdate(ctx, 12345, []string{"127.0.0.1:2"})
	require.ErrorIs(t, err, keel.ErrMemberNotFound)

	// The process that starts at the reserved address takes the entry:
	// its ID, and its learner status (it is not promoted on its own).
	s, err := keel.Open(keel.Config{
		ID: "newcomer", Dir: t.TempDir(), Listener: ln, Join: []string{f.Addr()},
		ClusterToken: keeltest.ClusterToken, HeartbeatTimeout: keeltest.HeartbeatTimeout,
		LeaderLeaseTimeout: keeltest.HeartbeatTimeout,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.Equal(t, ar.Member.ID, s.MemberID())
	for _, m := range memberList(t, c.Member(0)) {
		if m.ID == ar.Member.ID {
			require.Equal(t, "newcomer", m.Name)
			require.Equal(t, []string{addr}, m.PeerURLs)
			require.True(t, m.IsLearner)
		}
	}
	st, err := s.Status(ctx, "")
	require.NoError(t, err)
	require.True(t, st.IsLearner)

	// MemberPromote makes it a voter.
	promote(t, f, ar.Member.ID)
	v, l := voters(memberList(t, c.Member(1)))
	require.Len(t, v, 4)
	require.Empty(t, l)
	_, err = f.MemberPromote(ctx, ar.Member.ID)
	require.ErrorIs(t, err, keel.ErrMemberNotLearner)
	require.NoError(t, s.Leave(ctx))
	require.ErrorIs(t, s.Err(), keel.ErrRemoved)
	_, err = s.Get(ctx, "x")
	require.ErrorIs(t, err, keel.ErrRemoved)
	require.ErrorIs(t, err, keel.ErrStopped)
}

// promote promotes learner id through s, retrying while it catches up.
func promote(tb testing.TB, s *keel.Store, id uint64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), keeltest.WaitLimit)
	defer cancel()
	for {
		_, err := s.MemberPromote(ctx, id)
		if err == nil {
			return
		}
		if !errors.Is(err, keel.ErrLearnerNotReady) || ctx.Err() != nil {
			tb.Fatalf("promote %016x: %v", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMembershipRefusals(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	l := c.Leader()

	t.Run("promoting a lagging learner", func(t *testing.T) {
		n := c.Join(func(cfg *keel.Config) { cfg.Learner = true })
		id := c.Member(n).MemberID()
		c.Stop(n) // it cannot answer the leader's probe: not in sync
		_, err := l.MemberPromote(ctx, id)
		require.ErrorIs(t, err, keel.ErrLearnerNotReady)
		c.Restart(n)
		promote(t, c.Member(0), id)
		_, err = l.MemberPromote(ctx, id)
		require.ErrorIs(t, err, keel.ErrMemberNotLearner)
	})
	t.Run("a second change while one is in flight", func(t *testing.T) {
		l := c.Leader()
		entered, release := make(chan struct{}, 1), make(chan struct{})
		l.HoldReconfig(entered, release)
		first := make(chan error, 1)
		go func() {
			_, err := l.MemberAdd(ctx, []string{"127.0.0.1:3"})
			first <- err
		}()
		<-entered
		_, err := c.Follower().MemberAdd(ctx, []string{"127.0.0.1:4"})
		require.ErrorIs(t, err, keel.ErrChangeInProgress)
		l.HoldReconfig(nil, nil)
		close(release)
		require.NoError(t, <-first)
	})
	t.Run("moving leadership to a learner", func(t *testing.T) {
		ar, err := l.MemberAddAsLearner(ctx, []string{"127.0.0.1:5"})
		require.NoError(t, err)
		_, err = c.Follower().MoveLeader(ctx, ar.Member.ID)
		require.ErrorIs(t, err, keel.ErrBadLeaderTransferee)
	})
}

func TestRemoveKeepsQuorum(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	// One follower down: removing the other would leave one reachable
	// voter of the two remaining.
	down := c.Index(c.Follower())
	c.Stop(down)
	l := c.Leader()
	var other *keel.Store
	for _, s := range c.Members() {
		if s != nil && s != l {
			other = s
		}
	}
	_, err := l.MemberRemove(ctx, other.MemberID())
	require.ErrorIs(t, err, keel.ErrUnhealthy)
	require.ErrorIs(t, err, keel.ErrMemberNotEnoughStarted, "etcd's name for this refusal")
	err = other.Leave(ctx) // decided on the leader, for a follower
	require.ErrorIs(t, err, keel.ErrUnhealthy)
	require.ErrorIs(t, err, keel.ErrMemberNotEnoughStarted)
	_, err = l.MemberRemove(ctx, 424242)
	require.ErrorIs(t, err, keel.ErrMemberNotFound)
	v, _ := voters(memberList(t, l))
	require.Len(t, v, 3, "nothing was removed")

	// Forced, the removal goes ahead; it completes once the stopped
	// member, which the new configuration needs, comes back.
	removed := make(chan error, 1)
	go func() {
		_, err := l.MemberRemove(ctx, other.MemberID(), keel.WithForce())
		removed <- err
	}()
	c.Restart(down)
	require.NoError(t, <-removed)
	c.Forget(c.Index(other))
	v, _ = voters(memberList(t, c.Member(down)))
	require.Len(t, v, 2)
	_, err = c.Member(down).Put(ctx, "after", "force")
	require.NoError(t, err)
}

func TestLeaveLastVoter(t *testing.T) {
	c := keeltest.NewCluster(t, 1)
	err := c.Member(0).Leave(t.Context())
	require.ErrorIs(t, err, keel.ErrUnhealthy)
	require.NotErrorIs(t, err, keel.ErrMemberNotEnoughStarted, "the last voter is never removed, whatever is running")
	_, err = c.Member(0).Put(t.Context(), "still", "serving")
	require.NoError(t, err)
}

func TestRemovedMemberStaysOut(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	l := c.Leader()
	victim := c.Index(c.Follower())
	oldID := c.Member(victim).MemberID()
	_, err := l.MemberRemove(ctx, oldID)
	require.NoError(t, err)
	removed := c.Member(victim)
	waitErr(t, removed, keel.ErrRemoved)
	_, err = removed.Put(ctx, "k", "v")
	require.ErrorIs(t, err, keel.ErrRemoved)
	c.Forget(victim)
	requireMembers(t, c.Leader(), memberNames(c, victim)...)

	// The same ID joins again with a fresh Dir: it is a new member.
	name := fmt.Sprintf("m%d", victim)
	t.Run("same ID, fresh Dir", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		cfg := c.Config(victim)
		cfg.Dir, cfg.Addr, cfg.Listener, cfg.Peers, cfg.Dial = t.TempDir(), ln.Addr().String(), ln, nil, nil
		cfg.Join = []string{c.Leader().Addr()}
		s, err := keel.Open(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.NotEqual(t, oldID, s.MemberID(), "a member ID is never reused")
		waitVoter(t, c.Leader(), name)
		gr, err := s.Get(ctx, "k")
		require.NoError(t, err)
		require.Zero(t, gr.Count)
	})

	// The removed member's old Dir comes back: it learns it was removed,
	// and the cluster does not notice.
	term := status(t, c.Leader()).Header.RaftTerm
	c.Restart(victim)
	waitErr(t, c.Member(victim), keel.ErrRemoved)
	c.Forget(victim)
	for i := range 20 {
		_, err := c.Leader().Put(ctx, fmt.Sprintf("after/%d", i), "v")
		require.NoError(t, err)
	}
	require.Equal(t, term, status(t, c.Leader()).Header.RaftTerm, "the removed member disturbed the cluster")
}

// A removal cut short after its record was marked (the leader failed
// before RemoveServer) is a removal: the member stops, MemberList no
// longer shows it, and the leader's autopilot finishes it.
func TestRemovalMarkedNotFinished(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	l := c.Leader()
	victim := c.Index(c.Follower())
	release := make(chan struct{})
	require.NoError(t, l.MarkRemoved(ctx, c.Member(victim).MemberID(), release))
	waitErr(t, c.Member(victim), keel.ErrRemoved)
	servers, err := l.ConfigServers()
	require.NoError(t, err)
	require.Contains(t, servers, fmt.Sprintf("m%d", victim), "held: the configuration still has it")
	requireMembers(t, l, memberNames(c, victim)...)
	ml, err := c.Member(c.Index(l)).MemberList(ctx, keel.WithSerializable())
	require.NoError(t, err)
	require.Len(t, ml.Members, 2)
	c.Forget(victim)

	close(release)
	require.Eventually(t, func() bool {
		servers, err := c.Leader().ConfigServers()
		return err == nil && !slices.Contains(servers, fmt.Sprintf("m%d", victim))
	}, keeltest.WaitLimit, 20*time.Millisecond, "the autopilot takes the member out of the configuration")
	_, err = c.Leader().Put(ctx, "after", "v")
	require.NoError(t, err)
}

// memberNames returns the names of c's members in positions 0..2 but
// skip.
func memberNames(c *keeltest.Cluster, skip int) []string {
	var out []string
	for i := range 3 {
		if i != skip {
			out = append(out, fmt.Sprintf("m%d", i))
		}
	}
	return out
}

// waitErr waits until s.Err() reports want.
func waitErr(tb testing.TB, s *keel.Store, want error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), keeltest.WaitLimit)
	defer cancel()
	for !errors.Is(s.Err(), want) {
		select {
		case <-ctx.Done():
			tb.Fatalf("member %s: Err() = %v, want %v", s.ID(), s.Err(), want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestAddressChange(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	i := c.Index(c.Follower())
	id := c.Member(i).MemberID()
	c.Stop(i)

	// The member restarts with the same Dir on another port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := c.Config(i)
	cfg.Addr, cfg.Listener, cfg.Dial = ln.Addr().String(), ln, nil
	s, err := keel.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.Equal(t, id, s.MemberID())

	ctx2, cancel := context.WithTimeout(ctx, keeltest.WaitLimit)
	defer cancel()
	for {
		ml, err := c.Leader().MemberList(ctx2)
		require.NoError(t, err)
		var addr string
		for _, m := range ml.Members {
			if m.ID == id {
				addr = m.PeerURLs[0]
			}
		}
		if addr == ln.Addr().String() {
			break
		}
		select {
		case <-ctx2.Done():
			t.Fatalf("the member list still shows %s", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// It is reachable again: it applies a write made on the leader.
	pr, err := c.Leader().Put(ctx, "moved", "yes")
	require.NoError(t, err)
	gr, err := s.Get(ctx, "moved")
	require.NoError(t, err)
	require.Equal(t, pr.Header.Revision, gr.Kvs[0].ModRevision)
}

func TestScaleUpAndDown(t *testing.T) {
	c := keeltest.NewCluster(t, 1)
	ctx := t.Context()
	written := 0
	write := func(s *keel.Store) {
		for range 10 {
			putRetry(t, s, fmt.Sprintf("k/%04d", written), "v")
			written++
		}
	}
	check := func(wantVoters int) {
		t.Helper()
		running := 0
		for _, s := range c.Members() {
			if s == nil {
				continue
			}
			running++
			gr, err := s.Get(ctx, "k/", keel.WithPrefix(), keel.WithCountOnly())
			require.NoError(t, err)
			require.EqualValues(t, written, gr.Count, "member %s", s.ID())
			waitVoter(t, s, s.ID())
		}
		require.Equal(t, wantVoters, running)
		v, l := voters(memberList(t, c.Leader()))
		require.Len(t, v, wantVoters)
		require.Empty(t, l)
	}
	write(c.Member(0))
	for _, size := range []int{3, 5} {
		for len(liveMembers(c)) < size {
			n := c.Join(nil)
			write(c.Member(n))
		}
		check(size)
	}
	for _, size := range []int{3, 1} {
		for len(liveMembers(c)) > size {
			live := liveMembers(c)
			c.Leave(live[0]) // the oldest first: the original member too
			write(c.Leader())
		}
		check(size)
	}
	converge(t, c)
}

// liveMembers returns the positions of c's running members.
func liveMembers(c *keeltest.Cluster) []int {
	var out []int
	for i, s := range c.Members() {
		if s != nil {
			out = append(out, i)
		}
	}
	return out
}

func TestLearnerServes(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	n := c.Join(func(cfg *keel.Config) { cfg.Learner = true })
	ln := c.Member(n)
	require.True(t, status(t, ln).IsLearner)

	// Writes are forwarded to the leader; a watch on the learner sees them.
	wch := ln.Watch(ctx, "lw/", keel.WithPrefix())
	pr, err := ln.Put(ctx, "lw/a", "1")
	require.NoError(t, err)
	wr := <-wch
	require.NoError(t, wr.Err())
	require.Len(t, wr.Events, 1)
	require.Equal(t, pr.Header.Revision, wr.Events[0].Kv.ModRevision)

	// A write on the leader is visible to a linearizable read on the
	// learner at once (read index through the leader); a serializable
	// read is local and sees it once applied.
	pr, err = c.Leader().Put(ctx, "lw/b", "2")
	require.NoError(t, err)
	gr, err := ln.Get(ctx, "lw/b")
	require.NoError(t, err)
	require.Equal(t, "2", string(gr.Kvs[0].Value))
	gr, err = ln.Get(ctx, "lw/b", keel.WithSerializable())
	require.NoError(t, err)
	require.GreaterOrEqual(t, gr.Header.Revision, pr.Header.Revision)
	ml, err := ln.MemberList(ctx, keel.WithSerializable())
	require.NoError(t, err)
	_, learners := voters(ml.Members)
	require.Equal(t, []string{ln.ID()}, learners)

	// It stays a learner: a member that joins after it, probed in the
	// same rounds, is promoted, and it is not.
	other := c.Join(nil)
	waitVoter(t, c.Leader(), c.Member(other).ID())
	_, learners = voters(memberList(t, c.Leader()))
	require.Equal(t, []string{ln.ID()}, learners)
}

func TestRemoveDeadAfter(t *testing.T) {
	const dead = 1500 * time.Millisecond
	c := keeltest.NewCluster(t, 5, keeltest.WithConfig(func(_ int, cfg *keel.Config) { cfg.RemoveDeadAfter = dead }))
	waitMembers := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), keeltest.WaitLimit)
		defer cancel()
		for {
			ml, err := c.Leader().MemberList(ctx)
			if err == nil && len(ml.Members) == n {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the cluster did not shrink to %d members", n)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// Two dead voters are removed, one after the other.
	for _, want := range []int{4, 3} {
		i := c.Index(c.Follower())
		c.Crash(i)
		waitMembers(want)
		c.Forget(i)
	}
	// A third is not: 2 voters would be below a quorum of the initial 5.
	c.Crash(c.Index(c.Follower()))
	deadline := time.Now().Add(3 * dead)
	for time.Now().Before(deadline) {
		require.Len(t, memberList(t, c.Leader()), 3)
		time.Sleep(100 * time.Millisecond)
	}
	_, err := c.Leader().Put(t.Context(), "still", "serving")
	require.NoError(t, err)
}

func TestJoinWithATakenID(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, err = keel.Open(keel.Config{
		ID: "m1", Dir: t.TempDir(), Listener: ln, Join: []string{c.Member(0).Addr()},
		ClusterToken: keeltest.ClusterToken, JoinTimeout: 10 * time.Second,
	})
	require.ErrorIs(t, err, keel.ErrMemberExists)
	requireMembers(t, c.Member(0), "m0", "m1", "m2")
}

// putRetry puts key through s, retrying a put whose outcome is unknown
// (ErrTimeout: leadership moved while it was in flight, as it does when
// a leader leaves) or that found no leader; putting the same value again
// is harmless.
func putRetry(tb testing.TB, s *keel.Store, key, val string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), keeltest.WaitLimit)
	defer cancel()
	for {
		_, err := s.Put(ctx, key, val)
		if err == nil {
			return
		}
		if !errors.Is(err, keel.ErrTimeout) && !errors.Is(err, keel.ErrNoLeader) || ctx.Err() != nil {
			tb.Fatalf("put %s: %v", key, err)
		}
	}
}

// A change whose reply is lost after it was made is retried by the
// caller's member, and the retry finds it made: the call succeeds, and
// the change is made once.
func TestLostChangeReply(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	for vi, via := range []struct {
		name string
		pick func() *keel.Store
	}{
		{"on the leader", c.Leader},
		{"through a follower", c.Follower},
	} {
		t.Run(via.name, func(t *testing.T) {
			for li, learner := range []bool{false, true} {
				t.Run(fmt.Sprintf("add, learner %t", learner), func(t *testing.T) {
					addr := fmt.Sprintf("127.0.0.1:%d", 10+2*vi+li)
					c.Leader().LoseNextChangeReply()
					add := via.pick().MemberAdd
					if learner {
						add = via.pick().MemberAddAsLearner
					}
					ar, err := add(ctx, []string{addr})
					require.NoError(t, err)
					require.Equal(t, []string{addr}, ar.Member.PeerURLs)
					require.Equal(t, learner, ar.Member.IsLearner)
					var n int
					for _, m := range memberList(t, c.Leader()) {
						if slices.Contains(m.PeerURLs, addr) {
							n++
						}
					}
					require.Equal(t, 1, n, "one reservation for %s", addr)
					_, err = c.Leader().MemberRemove(ctx, ar.Member.ID)
					require.NoError(t, err)
				})
			}
			t.Run("promote, then remove", func(t *testing.T) {
				n := c.Join(func(cfg *keel.Config) { cfg.Learner = true })
				id := c.Member(n).MemberID()
				c.Leader().LoseNextChangeReply()
				_, err := via.pick().MemberPromote(ctx, id)
				require.NoError(t, err)
				waitVoter(t, c.Leader(), c.Member(n).ID())
				_, err = via.pick().MemberPromote(ctx, id)
				require.ErrorIs(t, err, keel.ErrMemberNotLearner, "a voter already")

				c.Leader().LoseNextChangeReply()
				_, err = via.pick().MemberRemove(ctx, id)
				require.NoError(t, err)
				waitErr(t, c.Member(n), keel.ErrRemoved)
				c.Forget(n)
				requireMembers(t, c.Leader(), "m0", "m1", "m2")
			})
		})
	}
}

// A serializable MemberList may be stale, but it never lists a
// configuration change that has not committed (one that a new leader may
// yet drop), as etcd lists only applied membership.
func TestSerializableMemberListOnlyCommitted(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	l := c.Leader()
	li := c.Index(l)
	for i := range 3 {
		if i != li {
			c.Stop(i)
		}
	}
	l.AppendLearner("uncommitted", "127.0.0.1:1")
	require.Eventually(t, func() bool {
		servers, err := l.ConfigServers()
		return err == nil && slices.Contains(servers, "uncommitted")
	}, keeltest.WaitLimit, time.Millisecond, "the change was not appended")
	ml, err := l.MemberList(ctx, keel.WithSerializable())
	require.NoError(t, err)
	for _, m := range ml.Members {
		require.NotEqual(t, "uncommitted", m.Name, "an uncommitted configuration was listed")
	}
	require.Len(t, ml.Members, 3)
}
