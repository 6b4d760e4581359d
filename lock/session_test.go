package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/lock"
	"github.com/stretchr/testify/require"
)

func TestSessionKeepsLeaseAlive(t *testing.T) {
	st := openStore(t)
	s := newSession(t, st, lock.WithTTL(1))
	require.Equal(t, st.MinLeaseTTL(), s.TTL())
	// Well past the TTL, the lease must still be alive thanks to renewal.
	time.Sleep(3 * time.Second)
	require.False(t, closed(s.Done()), "session ended while renewing")
	ttl, err := st.TimeToLive(context.Background(), s.Lease())
	require.NoError(t, err)
	require.Positive(t, ttl.GrantedTTL)
	require.GreaterOrEqual(t, ttl.TTL, int64(0))
}

func TestSessionEnds(t *testing.T) {
	tests := []struct {
		name      string
		end       func(t *testing.T, st *keel.Store, s *lock.Session, cancel context.CancelFunc)
		leaseGone bool
	}{
		{
			name: "close revokes",
			end: func(t *testing.T, _ *keel.Store, s *lock.Session, _ context.CancelFunc) {
				require.NoError(t, s.Close())
				require.NoError(t, s.Close(), "Close is idempotent")
			},
			leaseGone: true,
		},
		{
			name: "orphan keeps lease",
			end: func(_ *testing.T, _ *keel.Store, s *lock.Session, _ context.CancelFunc) {
				s.Orphan()
			},
		},
		{
			name: "revoked elsewhere",
			end: func(t *testing.T, st *keel.Store, s *lock.Session, _ context.CancelFunc) {
				_, err := st.Revoke(context.Background(), s.Lease())
				require.NoError(t, err)
			},
			leaseGone: true,
		},
		{
			name: "context canceled",
			end: func(_ *testing.T, _ *keel.Store, _ *lock.Session, cancel context.CancelFunc) {
				cancel()
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			lifetime, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newSession(t, st, lock.WithTTL(3), lock.WithContext(lifetime))
			_, err := st.Put(context.Background(), "owned", "x", keel.WithLease(s.Lease()))
			require.NoError(t, err)
			require.False(t, closed(s.Done()))

			tc.end(t, st, s, cancel)
			require.Eventually(t, func() bool { return closed(s.Done()) }, waitLimit, 10*time.Millisecond)
			require.Error(t, s.Ctx().Err(), "Ctx is canceled once the session ended")

			ttl, err := st.TimeToLive(context.Background(), s.Lease())
			require.NoError(t, err)
			gr, err := st.Get(context.Background(), "owned")
			require.NoError(t, err)
			if tc.leaseGone {
				require.Equal(t, int64(-1), ttl.TTL)
				require.Empty(t, gr.Kvs, "the lease's keys go with it")
			} else {
				require.Positive(t, ttl.TTL)
				require.Len(t, gr.Kvs, 1)
			}
		})
	}
}

func TestSessionWithLease(t *testing.T) {
	st := openStore(t)
	g, err := st.Grant(context.Background(), 30)
	require.NoError(t, err)
	s := newSession(t, st, lock.WithLease(g.ID))
	require.Equal(t, g.ID, s.Lease())
	require.NoError(t, s.Close())
	ttl, err := st.TimeToLive(context.Background(), g.ID)
	require.NoError(t, err)
	require.Equal(t, int64(-1), ttl.TTL, "Close revokes an adopted lease too")

	_, err = lock.NewSession(context.Background(), st, lock.WithLease(g.ID))
	require.ErrorIs(t, err, lock.ErrSessionExpired, "adopting a gone lease")
	require.ErrorIs(t, err, keel.ErrLeaseNotFound)
}

func TestNewSessionFailsOnClosedStore(t *testing.T) {
	st, err := keel.Open(keel.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	_, err = lock.NewSession(context.Background(), st)
	require.ErrorIs(t, err, keel.ErrStopped)
}

func TestSessionEndsWhenStoreCloses(t *testing.T) {
	st, err := keel.Open(keel.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	s, err := lock.NewSession(context.Background(), st, lock.WithTTL(30))
	require.NoError(t, err)
	require.NoError(t, st.Close())
	require.Eventually(t, func() bool { return closed(s.Done()) }, waitLimit, 10*time.Millisecond)
	require.ErrorIs(t, s.Close(), keel.ErrStopped)
}
