package keel_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// corruptCheckCluster starts n members that compare their hashes every
// interval.
func corruptCheckCluster(tb testing.TB, n int, interval time.Duration) *keeltest.Cluster {
	return keeltest.NewCluster(tb, n, keeltest.WithConfig(func(_ int, cfg *keel.Config) {
		cfg.CorruptCheckInterval = interval
	}))
}

// waitCorrupt waits until the cluster's alarms name exactly the members
// in want as CORRUPT, asking s.
func waitCorrupt(tb testing.TB, s *keel.Store, want ...uint64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), keeltest.WaitLimit)
	defer cancel()
	for {
		al, err := s.AlarmList(ctx)
		if err == nil {
			var got []uint64
			for _, a := range al.Alarms {
				if a.Alarm == keel.AlarmCorrupt {
					got = append(got, a.MemberID)
				}
			}
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return
			}
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("CORRUPT alarms are not %x: %v (last list: %v)", want, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// requireCorruptServes checks that bad refuses to serve with ErrCorrupt
// while the other members of c serve reads and writes.
func requireCorruptServes(t *testing.T, c *keeltest.Cluster, bad int) {
	t.Helper()
	ctx := t.Context()
	s := c.Member(bad)
	require.Eventually(t, func() bool {
		_, err := s.Get(ctx, "k", keel.WithSerializable())
		return errors.Is(err, keel.ErrCorrupt)
	}, keeltest.WaitLimit, 10*time.Millisecond, "the member applies its CORRUPT alarm")
	_, err := s.Get(ctx, "k")
	require.ErrorIs(t, err, keel.ErrCorrupt)
	_, err = s.Get(ctx, "k", keel.WithSerializable())
	require.ErrorIs(t, err, keel.ErrCorrupt)
	_, err = s.Put(ctx, "k", "from the corrupt member")
	require.ErrorIs(t, err, keel.ErrCorrupt)
	wr := <-s.Watch(ctx, "k")
	require.ErrorIs(t, wr.Err(), keel.ErrCorrupt)
	h, err := s.Health(ctx)
	require.ErrorIs(t, err, keel.ErrCorrupt)
	require.False(t, h.Health)
	require.Contains(t, status(t, s).Errors, fmt.Sprintf("memberID:%d alarm:CORRUPT", s.MemberID()))
	// What removing it takes still works there.
	_, err = s.MemberList(ctx)
	require.NoError(t, err)
	_, err = s.AlarmList(ctx)
	require.NoError(t, err)
	for i, m := range c.Members() {
		if i == bad || m == nil {
			continue
		}
		_, err := m.Put(ctx, fmt.Sprintf("after/%d", i), "v")
		require.NoError(t, err, "member %d writes", i)
		gr, err := m.Get(ctx, "after/", keel.WithPrefix(), keel.WithCountOnly())
		require.NoError(t, err, "member %d reads", i)
		require.Positive(t, gr.Count)
	}
}

// A byte flipped in a member's database while it was stopped is found
// when it starts: it is outvoted and stops serving; the others go on.
func TestCorruptionFoundAtStart(t *testing.T) {
	c := corruptCheckCluster(t, 3, time.Hour)
	ctx := t.Context()
	const canary = "canary-value-0123456789abcdef"
	for i := range 20 {
		_, err := c.Leader().Put(ctx, fmt.Sprintf("k%02d", i), "v")
		require.NoError(t, err)
	}
	_, err := c.Leader().Put(ctx, "canary", canary)
	require.NoError(t, err)
	converge(t, c)

	bad := c.Index(c.Follower())
	c.Stop(bad)
	path := filepath.Join(c.Config(bad).Dir, "kv.db")
	db, err := os.ReadFile(path)
	require.NoError(t, err)
	n := bytes.Count(db, []byte(canary))
	require.Positive(t, n, "the canary is in the stopped member's database")
	db = bytes.ReplaceAll(db, []byte(canary), []byte("canary-value-0123456789abcdeF"))
	require.NoError(t, os.WriteFile(path, db, 0o600))
	t.Logf("flipped the last byte of %d copies of the canary value", n)

	c.Restart(bad)
	waitCorrupt(t, c.Leader(), c.Member(bad).MemberID())
	requireCorruptServes(t, c, bad)
}

// A divergent apply on a running member is found by the leader's
// periodic check.
func TestCorruptionFoundPeriodically(t *testing.T) {
	c := corruptCheckCluster(t, 3, 100*time.Millisecond)
	ctx := t.Context()
	_, err := c.Leader().Put(ctx, "k", "v")
	require.NoError(t, err)
	converge(t, c)
	al, err := c.Leader().AlarmList(ctx)
	require.NoError(t, err)
	require.Empty(t, al.Alarms, "equal members raise nothing")

	bad := c.Index(c.Follower())
	c.Member(bad).DivergeNextPut()
	_, err = c.Leader().Put(ctx, "k", "v2")
	require.NoError(t, err)
	waitCorrupt(t, c.Leader(), c.Member(bad).MemberID())
	requireCorruptServes(t, c, bad)

	// The documented recovery: remove it, and a fresh member joins.
	_, err = c.Leader().MemberRemove(ctx, c.Member(bad).MemberID())
	require.NoError(t, err)
	c.Forget(bad)
	n := c.Join(nil)
	gr, err := c.Member(n).Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v2", string(gr.Kvs[0].Value))
	converge(t, c)
}

// Checks that run often, under writes, compactions, a restart and a
// member that lags, find nothing: members with equal histories are never
// marked.
func TestCorruptionNoFalseAlarms(t *testing.T) {
	c := corruptCheckCluster(t, 3, 20*time.Millisecond)
	ctx := t.Context()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := c.Member(w)
				if s == nil {
					continue
				}
				pr, err := s.Put(ctx, fmt.Sprintf("w%d/%d", w, i%50), fmt.Sprint(i))
				if err == nil && i%40 == 39 {
					_, err = s.Compact(ctx, pr.Header.Revision-20)
				}
				// Writes in flight when the leader stops may time out;
				// what must never happen is a member refusing as corrupt.
				if errors.Is(err, keel.ErrCorrupt) {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	// Member 2 falls 100 revisions behind while stopped, then catches up
	// (and checks itself at start) while the others go on.
	c.Stop(2)
	behind := status(t, c.Leader()).Header.Revision + 100
	require.Eventually(t, func() bool {
		st, err := c.Leader().Status(ctx, "")
		return err == nil && st.Header.Revision >= behind
	}, keeltest.WaitLimit, 10*time.Millisecond)
	c.Restart(2)
	for range 60 { // about 60 leader checks, and member 2's at start
		al, err := c.Leader().AlarmList(ctx)
		require.NoError(t, err)
		require.Empty(t, al.Alarms)
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	converge(t, c)
	al, err := c.Leader().AlarmList(ctx)
	require.NoError(t, err)
	require.Empty(t, al.Alarms)
}
