package keel_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
	"github.com/keeldb/keel/transport"
)

// Maintenance calls with an endpoint: Status, HashKV and
// Defragment name a member by Name, ID or address, and that member
// answers for itself over the member port.

// endpointForms are the ways to name member s as an endpoint.
var endpointForms = []struct {
	name string
	of   func(s *keel.Store) string
}{
	{"name", func(s *keel.Store) string { return s.ID() }},
	{"decimal ID", func(s *keel.Store) string { return strconv.FormatUint(s.MemberID(), 10) }},
	{"hex ID", func(s *keel.Store) string { return strconv.FormatUint(s.MemberID(), 16) }},
	{"padded hex ID", func(s *keel.Store) string { return fmt.Sprintf("%016x", s.MemberID()) }},
	{"address", func(s *keel.Store) string { return s.Addr() }},
	{"http URL", func(s *keel.Store) string { return "http://" + s.Addr() }},
	{"https URL with slash", func(s *keel.Store) string { return "https://" + s.Addr() + "/" }},
}

// roles returns c's leader, a follower and the third member, which asks.
func roles(tb testing.TB, c *keeltest.Cluster) (leader, follower, asker *keel.Store) {
	tb.Helper()
	leader, follower = c.Leader(), c.Follower()
	for _, s := range c.Members() {
		if s != leader && s != follower {
			asker = s
		}
	}
	require.NotNil(tb, asker)
	return leader, follower, asker
}

func TestStatusEndpoint(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	_, err := c.Leader().Put(t.Context(), "k", "v")
	require.NoError(t, err)
	converge(t, c)
	leader, follower, asker := roles(t, c)
	check := func(t *testing.T, st *keel.StatusResponse, target *keel.Store) {
		t.Helper()
		require.Equal(t, target.MemberID(), st.Header.MemberId, "the target's header")
		require.Equal(t, target == leader, st.IsLeader)
		require.Equal(t, leader.MemberID(), st.Leader, "the leader's member ID")
		require.Equal(t, leader.ID(), st.LeaderName)
		require.Equal(t, keel.ReleaseVersion, st.Version)
		require.Positive(t, st.DbSize)
		require.Positive(t, st.RaftAppliedIndex)
		require.Empty(t, st.Errors)
	}
	for _, target := range []*keel.Store{leader, follower} {
		role := map[bool]string{true: "leader", false: "follower"}[target == leader]
		t.Run(role+"/empty on itself", func(t *testing.T) {
			st, err := target.Status(statusCtx(t), "")
			require.NoError(t, err)
			check(t, st, target)
		})
		for _, form := range endpointForms {
			t.Run(role+"/"+form.name, func(t *testing.T) {
				st, err := asker.Status(statusCtx(t), form.of(target))
				require.NoError(t, err)
				check(t, st, target)
				st, err = target.Status(statusCtx(t), form.of(target)) // itself
				require.NoError(t, err)
				check(t, st, target)
			})
		}
	}
}

func TestHashKVEndpoint(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	var revs []int64
	for i := range 5 {
		r, err := c.Leader().Put(ctx, fmt.Sprintf("k%d", i%2), fmt.Sprint(i))
		require.NoError(t, err)
		revs = append(revs, r.Header.Revision)
	}
	converge(t, c)
	leader, follower, asker := roles(t, c)
	for _, rev := range []int64{revs[1], revs[4], 0} {
		want, err := asker.HashKV(ctx, "", rev)
		require.NoError(t, err)
		for _, target := range []*keel.Store{leader, follower} {
			for _, form := range endpointForms {
				h, err := asker.HashKV(ctx, form.of(target), rev)
				require.NoError(t, err, "%s of %s at %d", form.name, target.ID(), rev)
				require.Equal(t, target.MemberID(), h.Header.MemberId, "the target's header")
				require.Equal(t, want.Hash, h.Hash, "%s at %d: the same history", target.ID(), rev)
				require.Equal(t, want.HashRevision, h.HashRevision)
				require.Equal(t, want.CompactRevision, h.CompactRevision)
			}
		}
	}

	// The target's errors come back as the same sentinels.
	cur := revs[len(revs)-1]
	_, err := c.Leader().Compact(ctx, revs[2], keel.WithCompactPhysical())
	require.NoError(t, err)
	converge(t, c)
	tests := []struct {
		name string
		rev  int64
		want error
	}{
		{"future revision", cur + 100, keel.ErrFutureRev},
		{"compacted revision", revs[1], keel.ErrCompacted},
		{"negative revision", -1, keel.ErrInvalidOption},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := asker.HashKV(ctx, follower.ID(), tc.rev)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestDefragmentEndpoint(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	leader, follower, asker := roles(t, c)
	makeGarbage(t, c, leader, 300, 8<<10, true)
	converge(t, c)
	for _, tc := range []struct {
		name     string
		target   *keel.Store
		endpoint string
	}{
		{"follower by name", follower, follower.ID()},
		{"leader by hex ID", leader, strconv.FormatUint(leader.MemberID(), 16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, other := status(t, tc.target), status(t, asker)
			hash := stateOf(t, tc.target)
			resp, err := asker.Defragment(ctx, tc.endpoint)
			require.NoError(t, err)
			require.Equal(t, tc.target.MemberID(), resp.Header.MemberId, "the target's answer")
			require.Less(t, resp.SizeAfter, resp.SizeBefore/2, "the target's file shrinks")
			after := status(t, tc.target)
			require.Less(t, after.DbSize, before.DbSize/2, "the target's database shrinks")
			require.GreaterOrEqual(t, status(t, asker).DbSize, other.DbSize, "the asker's does not")
			require.Equal(t, hash, stateOf(t, tc.target), "the target's data and hash are the same")
		})
	}
}

func TestMaintenanceUnknownEndpoint(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	s := c.Member(0)
	calls := []struct {
		name string
		call func(ctx context.Context, endpoint string) error
	}{
		{"Status", func(ctx context.Context, ep string) error { _, err := s.Status(ctx, ep); return err }},
		{"HashKV", func(ctx context.Context, ep string) error { _, err := s.HashKV(ctx, ep, 0); return err }},
		{"Defragment", func(ctx context.Context, ep string) error { _, err := s.Defragment(ctx, ep); return err }},
	}
	endpoints := []string{"nobody", "127.0.0.1:1", "http://127.0.0.1:1", "ffffffffffffffff", "12345", " "}
	for _, call := range calls {
		for _, ep := range endpoints {
			t.Run(call.name+"/"+ep, func(t *testing.T) {
				require.ErrorIs(t, call.call(statusCtx(t), ep), keel.ErrMemberNotFound)
			})
		}
	}
}

// TestMaintenanceEndpointDown: a member that is down, or whose answers
// are lost, fails the call, within its ctx, and is still a member.
func TestMaintenanceEndpointDown(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	converge(t, c)
	asker := c.Member(0)

	down := c.Member(2)
	c.Crash(2)
	t.Run("crashed", func(t *testing.T) {
		for _, form := range endpointForms {
			_, err := asker.Status(statusCtx(t), form.of(down))
			require.ErrorIs(t, err, transport.ErrUnreachable, form.name)
			require.NotErrorIs(t, err, keel.ErrMemberNotFound, form.name)
		}
		_, err := asker.Defragment(statusCtx(t), down.ID())
		require.ErrorIs(t, err, transport.ErrUnreachable)
	})

	t.Run("silent", func(t *testing.T) {
		// Something takes the crashed member's address and never answers.
		ln := c.Listen(2)
		var (
			accepted sync.WaitGroup
			mu       sync.Mutex
			conns    []net.Conn
		)
		accepted.Go(func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
			}
		})
		defer func() {
			require.NoError(t, ln.Close())
			accepted.Wait()
			for _, conn := range conns {
				_ = conn.Close()
			}
		}()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := asker.HashKV(ctx, down.ID(), 0)
		// The dial's handshake or the call ran out of ctx's time.
		require.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded), "%v", err)
	})
}
