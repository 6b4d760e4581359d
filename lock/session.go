package lock

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keeldb/keel"
)

// DefaultSessionTTL is the TTL of a session's lease, in seconds, when
// WithTTL is not given (as in etcd).
const DefaultSessionTTL = 60

// Session is a lease kept alive in the background: the liveness of the
// locks and leaderships taken through it. Every key a Mutex or Election
// creates is attached to the session's lease, so when the session ends the
// store deletes them and the next waiter proceeds.
//
// A session ends when its lease is revoked or expires (for example because
// the process could not reach a quorum for a TTL), when the context given
// WithContext ends, when the store closes, or on Orphan or Close. Done is
// closed then. Once a session has ended, the caller must assume that every
// lock and leadership taken through it is lost: blocked Lock and Campaign
// calls return ErrSessionExpired, and Election.Done closes. Note that the
// lease may outlive a session that ended on its side (after Orphan, or a
// canceled context) until its TTL runs out, while a lease that expired on
// the store's side may be noticed here up to a third of the TTL later:
// guard writes with the fencing token, not with Done.
//
// A Session is safe for concurrent use.
type Session struct {
	client keel.Client
	id     keel.LeaseID
	ttl    int64

	ctx    context.Context
	cancel context.CancelFunc
	donec  chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// SessionOption configures NewSession.
type SessionOption func(*sessionOptions)

type sessionOptions struct {
	ttl     int64
	leaseID keel.LeaseID
	ctx     context.Context
}

// WithTTL sets the TTL of the session's lease in seconds (default
// DefaultSessionTTL). The store raises it to its minimum
// (keel.Store.MinLeaseTTL). A TTL <= 0 keeps the default.
func WithTTL(ttl int) SessionOption {
	return func(o *sessionOptions) {
		if ttl > 0 {
			o.ttl = int64(ttl)
		}
	}
}

// WithLease makes the session adopt an existing lease instead of granting
// a new one. Close revokes it.
func WithLease(id keel.LeaseID) SessionOption {
	return func(o *sessionOptions) { o.leaseID = id }
}

// WithContext bounds the session's life: when ctx ends, the session stops
// renewing its lease and ends (the lease itself then expires after its
// TTL unless it is revoked). By default the session lives until Close or
// Orphan, or until its lease is lost.
func WithContext(ctx context.Context) SessionOption {
	return func(o *sessionOptions) {
		if ctx != nil {
			o.ctx = ctx
		}
	}
}

// NewSession grants a lease (or adopts the one given WithLease) on client
// and keeps it alive until the session ends. ctx bounds only the calls
// NewSession makes; the session's life is bounded by WithContext.
func NewSession(ctx context.Context, client keel.Client, opts ...SessionOption) (*Session, error) {
	o := sessionOptions{ttl: DefaultSessionTTL, ctx: context.Background()}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	id, ttl := o.leaseID, o.ttl
	if id == keel.NoLease {
		resp, err := client.Grant(ctx, o.ttl)
		if err != nil {
			return nil, err
		}
		id, ttl = resp.ID, resp.TTL
	}
	sctx, cancel := context.WithCancel(o.ctx)
	stop := context.AfterFunc(ctx, cancel) // ctx bounds the first renewal
	ka, err := client.KeepAlive(sctx, id)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		if o.leaseID == keel.NoLease {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(ttl)*time.Second)
			_, _ = client.Revoke(rctx, id) // best effort: do not leak the lease we granted
			rcancel()
		}
		if errors.Is(err, keel.ErrLeaseNotFound) {
			return nil, errors.Join(ErrSessionExpired, err)
		}
		return nil, err
	}
	s := &Session{client: client, id: id, ttl: ttl, ctx: sctx, cancel: cancel, donec: make(chan struct{})}
	go func() {
		defer func() {
			close(s.donec)
			cancel()
		}()
		for range ka { // keel closes the channel when renewal stops
		}
	}()
	return s, nil
}

// Client returns the client the session was created on.
func (s *Session) Client() keel.Client { return s.client }

// Lease returns the ID of the session's lease.
func (s *Session) Lease() keel.LeaseID { return s.id }

// TTL returns the TTL of the session's lease in seconds, as granted (or as
// requested, for a lease adopted WithLease).
func (s *Session) TTL() int64 { return s.ttl }

// Ctx returns a context that is canceled when the session ends.
func (s *Session) Ctx() context.Context { return s.ctx }

// Done returns a channel that is closed when the session ends: its lease
// could not be renewed (revoked, expired, store closed), its context
// ended, or Orphan or Close was called.
func (s *Session) Done() <-chan struct{} { return s.donec }

// Orphan ends the session without revoking its lease: renewal stops and
// the lease expires after its TTL, releasing the session's keys then. It
// returns once the renewal goroutine has stopped.
func (s *Session) Orphan() {
	s.cancel()
	<-s.donec
}

// Close ends the session and revokes its lease, which deletes every key
// attached to it (releasing its locks and leaderships at once). It is
// idempotent; only the first call revokes. A lease that is already gone
// is not an error.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.Orphan()
		// If the revoke takes longer than the TTL, the lease expired anyway.
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.ttl)*time.Second)
		defer cancel()
		if _, err := s.client.Revoke(ctx, s.id); err != nil && !errors.Is(err, keel.ErrLeaseNotFound) {
			s.closeErr = err
		}
	})
	return s.closeErr
}
