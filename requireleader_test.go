package keel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// requireLeaderCalls are the unary calls WithRequireLeader applies to, as
// etcd's interceptor applies it to every unary RPC.
var requireLeaderCalls = []struct {
	name string
	call func(ctx context.Context, s *keel.Store, lease keel.LeaseID) error
}{
	{"put", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error {
		_, err := s.Put(ctx, "k", "v")
		return err
	}},
	{"get", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error { _, err := s.Get(ctx, "k"); return err }},
	{"serializable get", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error {
		_, err := s.Get(ctx, "k", keel.WithSerializable())
		return err
	}},
	{"delete", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error {
		_, err := s.Delete(ctx, "nope")
		return err
	}},
	{"read txn", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error {
		_, err := s.Txn(ctx).Then(keel.OpGet("k")).Commit()
		return err
	}},
	{"write txn", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error {
		_, err := s.Txn(ctx).Then(keel.OpPut("k", "w")).Commit()
		return err
	}},
	{"compact", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error {
		_, err := s.Compact(ctx, 1)
		return err
	}},
	{"grant", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error { _, err := s.Grant(ctx, 30); return err }},
	{"keepalive once", func(ctx context.Context, s *keel.Store, id keel.LeaseID) error {
		_, err := s.KeepAliveOnce(ctx, id)
		return err
	}},
	{"keepalive", func(ctx context.Context, s *keel.Store, id keel.LeaseID) error {
		_, err := s.KeepAlive(ctx, id)
		return err
	}},
	{"timetolive", func(ctx context.Context, s *keel.Store, id keel.LeaseID) error {
		_, err := s.TimeToLive(ctx, id)
		return err
	}},
	{"leases", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error { _, err := s.Leases(ctx); return err }},
	{"member list", func(ctx context.Context, s *keel.Store, _ keel.LeaseID) error {
		_, err := s.MemberList(ctx)
		return err
	}},
	{"revoke", func(ctx context.Context, s *keel.Store, id keel.LeaseID) error {
		_, err := s.Revoke(ctx, id)
		return err
	}},
}

// TestRequireLeaderWithLeader checks that WithRequireLeader changes
// nothing while the member has a leader, on a follower too.
func TestRequireLeaderWithLeader(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	f := c.Follower()
	// A follower that has not heard from the new leader yet knows none.
	require.Eventually(t, func() bool { return f.Leader() != "" }, keeltest.WaitLimit, 10*time.Millisecond)
	ctx := keel.WithRequireLeader(t.Context())
	g, err := f.Grant(ctx, 60)
	require.NoError(t, err)
	wch := f.Watch(ctx, "k")
	for _, tc := range requireLeaderCalls {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.call(ctx, f, g.ID))
		})
	}
	wr := <-wch
	require.NoError(t, wr.Err())
	require.NotEmpty(t, wr.Events)
}

// TestRequireLeaderFailsFast isolates a follower until it knows no leader:
// calls made WithRequireLeader then fail at once with ErrNoLeader, even
// with a context that never ends (without it they would wait for a
// leader), and so does a new watch.
func TestRequireLeaderFailsFast(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	f := c.Follower()
	g, err := f.Grant(t.Context(), 60)
	require.NoError(t, err)
	c.Isolate(c.Index(f))
	require.Eventually(t, func() bool { return f.Leader() == "" }, keeltest.WaitLimit, 10*time.Millisecond)

	ctx := keel.WithRequireLeader(context.Background()) // no deadline
	for _, tc := range requireLeaderCalls {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.call(ctx, f, g.ID), keel.ErrNoLeader)
		})
	}
	var got []keel.WatchResponse
	for wr := range f.Watch(ctx, "k", keel.WithCreatedNotify()) {
		got = append(got, wr)
	}
	require.Len(t, got, 1, "refused before it is created")
	require.True(t, got[0].Canceled)
	require.ErrorIs(t, got[0].Err(), keel.ErrNoLeader)
	require.Empty(t, got[0].CancelReason)

	// Without it, a serializable read is served from local state.
	_, err = f.Get(t.Context(), "k", keel.WithSerializable())
	require.NoError(t, err)
}

// TestRequireLeaderEndsStreams checks that a watch and a keepalive made
// WithRequireLeader on a member that then loses its leader are ended (the
// watch with a canceled response whose Err is ErrNoLeader, the keepalive
// by closing its channel), while those made without it stay open and the
// watch resumes delivering once the member is back.
func TestRequireLeaderEndsStreams(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	f := c.Follower()
	require.Eventually(t, func() bool { return f.Leader() != "" }, keeltest.WaitLimit, 10*time.Millisecond)
	ctx := t.Context()
	rctx := keel.WithRequireLeader(ctx)
	g, err := f.Grant(ctx, 60)
	require.NoError(t, err)
	required := f.Watch(rctx, "k")
	plain := f.Watch(ctx, "k")
	reqKA, err := f.KeepAlive(rctx, g.ID)
	require.NoError(t, err)
	plainKA, err := f.KeepAlive(ctx, g.ID)
	require.NoError(t, err)

	c.Isolate(c.Index(f))
	var last keel.WatchResponse
	for wr := range required {
		last = wr
	}
	require.True(t, last.Canceled)
	require.ErrorIs(t, last.Err(), keel.ErrNoLeader)
	require.NotNil(t, last.Header)
	for range reqKA { // closed
	}

	select {
	case wr := <-plain:
		t.Fatalf("the watch without WithRequireLeader was ended: %+v", wr)
	default:
	}
	for open := true; open; {
		select {
		case _, ok := <-plainKA:
			require.True(t, ok, "the keepalive without WithRequireLeader was ended")
		default:
			open = false
		}
	}

	c.Heal(c.Index(f))
	_, err = c.Leader().Put(ctx, "k", "after")
	require.NoError(t, err)
	wr := <-plain
	require.NoError(t, wr.Err())
	require.Equal(t, "after", string(wr.Events[0].Kv.Value))
}
