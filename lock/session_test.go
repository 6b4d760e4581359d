package lock_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
	"github.com/keeldb/keel/lock"
	"github.com/stretchr/testify/require"
)

// TestSessionKeepsLeaseAlive checks that renewal alone keeps a session's
// lease alive well past its TTL. The renewal runs in the store (a real
// one, on real time), so the test watches the session and the lease for
// three TTLs and fails as soon as either ends.
func TestSessionKeepsLeaseAlive(t *testing.T) {
	st := openStore(t)
	s := newSession(t, st, lock.WithTTL(1))
	require.Equal(t, st.MinLeaseTTL(), s.TTL())
	ctx := t.Context()
	require.Never(t, func() bool {
		ttl, err := st.TimeToLive(ctx, s.Lease())
		return closed(s.Done()) || err != nil || ttl.TTL < 0
	}, 3*time.Duration(s.TTL())*time.Second, 50*time.Millisecond, "session or lease ended while renewing")
	require.False(t, closed(s.Done()), "session ended while renewing")
	ttl, err := st.TimeToLive(ctx, s.Lease())
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
				_, err := st.Revoke(t.Context(), s.Lease())
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
			lifetime, cancel := context.WithCancel(t.Context())
			defer cancel()
			s := newSession(t, st, lock.WithTTL(3), lock.WithContext(lifetime))
			_, err := st.Put(t.Context(), "owned", "x", keel.WithLease(s.Lease()))
			require.NoError(t, err)
			require.False(t, closed(s.Done()))

			tc.end(t, st, s, cancel)
			require.Eventually(t, func() bool { return closed(s.Done()) }, waitLimit, 10*time.Millisecond)
			require.Error(t, s.Ctx().Err(), "Ctx is canceled once the session ended")

			ttl, err := st.TimeToLive(t.Context(), s.Lease())
			require.NoError(t, err)
			gr, err := st.Get(t.Context(), "owned")
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
	g, err := st.Grant(t.Context(), 30)
	require.NoError(t, err)
	s := newSession(t, st, lock.WithLease(g.ID))
	require.Equal(t, g.ID, s.Lease())
	require.NoError(t, s.Close())
	ttl, err := st.TimeToLive(t.Context(), g.ID)
	require.NoError(t, err)
	require.Equal(t, int64(-1), ttl.TTL, "Close revokes an adopted lease too")

	_, err = lock.NewSession(st, lock.WithLease(g.ID))
	require.ErrorIs(t, err, lock.ErrSessionExpired, "adopting a gone lease")
	require.ErrorIs(t, err, keel.ErrLeaseNotFound)
}

func TestNewSessionFailsOnClosedStore(t *testing.T) {
	c := keeltest.NewCluster(t, 1)
	st := c.Member(0)
	c.Stop(0)
	_, err := lock.NewSession(st)
	require.ErrorIs(t, err, keel.ErrStopped)
}

func TestSessionEndsWhenStoreCloses(t *testing.T) {
	c := keeltest.NewCluster(t, 1)
	st := c.Member(0)
	s, err := lock.NewSession(st, lock.WithTTL(30))
	require.NoError(t, err)
	c.Stop(0)
	require.Eventually(t, func() bool { return closed(s.Done()) }, waitLimit, 10*time.Millisecond)
	require.ErrorIs(t, s.Close(), keel.ErrStopped)
}

// TestSessionGivesUpOnUnresponsiveStore checks the session's own timing
// on a client that stops answering, in a synctest bubble (fake time, so
// the TTL-long waits take no real time): a revoke is abandoned once the
// lease's TTL has passed, since the lease has expired by then anyway, and
// a lost keepalive ends the session at once.
func TestSessionGivesUpOnUnresponsiveStore(t *testing.T) {
	const ttl = 5
	tests := []struct {
		name    string
		keepErr error // KeepAlive's error
		run     func(t *testing.T, c *leaseClient) error
		want    error
		took    time.Duration
		revokes int
	}{
		{
			name: "Close",
			run: func(t *testing.T, c *leaseClient) error {
				s, err := lock.NewSession(c, lock.WithTTL(ttl))
				require.NoError(t, err)
				return s.Close()
			},
			want: context.DeadlineExceeded, took: ttl * time.Second, revokes: 1,
		},
		{
			name:    "NewSession whose first renewal fails",
			keepErr: keel.ErrNoLeader,
			run: func(t *testing.T, c *leaseClient) error {
				_, err := lock.NewSession(c, lock.WithTTL(ttl))
				return err
			},
			want: keel.ErrNoLeader, took: ttl * time.Second, revokes: 1,
		},
		{
			name: "keepalive lost",
			run: func(t *testing.T, c *leaseClient) error {
				s, err := lock.NewSession(c, lock.WithTTL(ttl))
				require.NoError(t, err)
				close(c.lost)
				<-s.Done() // a session that never ended would deadlock the bubble
				return s.Ctx().Err()
			},
			want: context.Canceled,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := &leaseClient{ttl: ttl, keepErr: tc.keepErr, lost: make(chan struct{})}
				start := time.Now()
				require.ErrorIs(t, tc.run(t, c), tc.want)
				require.Equal(t, tc.took, time.Since(start))
				require.Equal(t, tc.revokes, c.revoked())
			})
		})
	}
}

// leaseClient is a keel.Client that serves only leases, from memory, as a
// store that stopped answering would: Grant grants ttl, KeepAlive fails
// with keepErr or renews silently until its ctx ends or lost is closed,
// and Revoke blocks until its ctx ends. Any other call panics.
type leaseClient struct {
	keel.Client
	ttl     int64
	keepErr error
	lost    chan struct{}

	mu      sync.Mutex
	revokes int
}

func (c *leaseClient) Grant(context.Context, int64) (*keel.LeaseGrantResponse, error) {
	return &keel.LeaseGrantResponse{ID: 1, TTL: c.ttl}, nil
}

func (c *leaseClient) KeepAlive(ctx context.Context, _ keel.LeaseID) (<-chan *keel.LeaseKeepAliveResponse, error) {
	if c.keepErr != nil {
		return nil, c.keepErr
	}
	ch := make(chan *keel.LeaseKeepAliveResponse)
	go func() {
		defer close(ch)
		select {
		case <-ctx.Done():
		case <-c.lost:
		}
	}()
	return ch, nil
}

func (c *leaseClient) Revoke(ctx context.Context, _ keel.LeaseID) (*keel.LeaseRevokeResponse, error) {
	c.mu.Lock()
	c.revokes++
	c.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (c *leaseClient) revoked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.revokes
}

func TestSessionClient(t *testing.T) {
	st := openStore(t)
	tests := []struct {
		name   string
		client keel.Client
		want   *keel.Store
	}{
		{"store", st, st},
		{"other client", &recordingClient{Client: st}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(t, tc.client)
			require.Same(t, tc.want, s.Client())
		})
	}
}

// TestSessionWithContext checks etcd's WithContext: the context bounds
// NewSession's own calls and the session's life, and Close leaves the
// lease to expire once it has ended.
func TestSessionWithContext(t *testing.T) {
	st := openStore(t)
	t.Run("ended before NewSession", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := lock.NewSession(st, lock.WithContext(ctx))
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("ended after", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		s, err := lock.NewSession(st, lock.WithContext(ctx), lock.WithTTL(30))
		require.NoError(t, err)
		cancel()
		require.Eventually(t, func() bool { return closed(s.Done()) }, waitLimit, 10*time.Millisecond)
		require.ErrorIs(t, s.Close(), context.Canceled, "the revoke is bounded by the ended context")
		ttl, err := st.TimeToLive(t.Context(), s.Lease())
		require.NoError(t, err)
		require.Positive(t, ttl.TTL, "the lease is left to expire")
		_, err = st.Revoke(t.Context(), s.Lease())
		require.NoError(t, err)
	})
}
