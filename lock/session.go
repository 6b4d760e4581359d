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
// locks and leaderships taken through it, as etcd's concurrency.Session.
// Every key a Mutex or Election creates is attached to the session's
// lease, so when the session ends the store deletes them and the next
// waiter proceeds.
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
	octx   context.Context // the WithContext context: bounds NewSession, the session's life and Close

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
// a new one, for example to take back, after a restart, the locks and
// leaderships held through it (see ResumeElection). Close revokes it.
func WithLease(id keel.LeaseID) SessionOption {
	return func(o *sessionOptions) { o.leaseID = id }
}

// WithContext gives the session a context, as in etcd: it bounds the calls
// NewSession makes, the session's life (when ctx ends, the session stops
// renewing its lease and ends; the lease then expires after its TTL), and
// the revoke Close makes (if ctx has ended, Close leaves the lease to
// expire). The default is a context that never ends: the session lives
// until Close or Orphan, until its lease is lost, or until the store
// closes.
func WithContext(ctx context.Context) SessionOption {
	return func(o *sessionOptions) {
		if ctx != nil {
			o.ctx = ctx
		}
	}
}

// NewSession grants a lease (or adopts the one given WithLease) on client
// and keeps it alive until the session ends, as etcd's
// concurrency.NewSession. client is usually a *keel.Store (any member);
// any other implementation of keel.Client works too.
//
// Unlike etcd, a lease NewSession granted is revoked again (best effort,
// for at most its TTL) when the first renewal fails, and adopting a lease
// that no longer exists fails with an error that matches both
// ErrSessionExpired and keel.ErrLeaseNotFound.
func NewSession(client keel.Client, opts ...SessionOption) (*Session, error) {
	o := sessionOptions{ttl: DefaultSessionTTL, ctx: context.Background()}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	id, ttl := o.leaseID, o.ttl
	if id == keel.NoLease {
		resp, err := client.Grant(o.ctx, o.ttl)
		if err != nil {
			return nil, err
		}
		id, ttl = resp.ID, resp.TTL
	}
	sctx, cancel := context.WithCancel(o.ctx)
	ka, err := client.KeepAlive(sctx, id)
	if err != nil {
		cancel()
		if o.leaseID == keel.NoLease {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(o.ctx), time.Duration(ttl)*time.Second)
			_, _ = client.Revoke(rctx, id) // best effort: do not leak the lease we granted
			rcancel()
		}
		if errors.Is(err, keel.ErrLeaseNotFound) {
			return nil, errors.Join(ErrSessionExpired, err)
		}
		return nil, err
	}
	s := &Session{client: client, id: id, ttl: ttl, octx: o.ctx, ctx: sctx, cancel: cancel, donec: make(chan struct{})}
	go func() {
		defer func() {
			cancel() // first: Ctx is done once Done is closed
			close(s.donec)
		}()
		for range ka { // keel closes the channel when renewal stops
		}
	}()
	return s, nil
}

// Client returns the *keel.Store the session was created on, as etcd's
// Session.Client returns its *clientv3.Client, so that code written for
// etcd (s.Client().Put(...), NewSTM(s.Client(), ...)) runs unchanged. It
// returns nil when the session was created on another implementation of
// keel.Client (a wrapper or a test double); the Mutexes and Elections of
// such a session still make every call through that implementation.
func (s *Session) Client() *keel.Store {
	st, _ := s.client.(*keel.Store)
	return st
}

// Lease returns the ID of the session's lease.
func (s *Session) Lease() keel.LeaseID { return s.id }

// TTL returns the TTL of the session's lease in seconds, as granted (or as
// requested, for a lease adopted WithLease). etcd's Session has no such
// method.
func (s *Session) TTL() int64 { return s.ttl }

// Ctx returns a context that is canceled when the session ends.
func (s *Session) Ctx() context.Context { return s.ctx }

// Done returns a channel that is closed when the session ends: its lease
// could not be renewed (revoked, expired, store closed), its context
// ended, or Orphan or Close was called.
func (s *Session) Done() <-chan struct{} { return s.donec }

// Orphan ends the session without revoking its lease: renewal stops and
// the lease expires after its TTL, releasing the session's keys then. It
// is for handing the lease over (WithLease) or for when a revoke cannot
// succeed. It returns once the renewal goroutine has stopped.
func (s *Session) Orphan() {
	s.cancel()
	<-s.donec
}

// Close ends the session and revokes its lease, which deletes every key
// attached to it (releasing its locks and leaderships at once). The revoke
// is bounded by the session's TTL (the lease has expired by then anyway)
// and by the WithContext context: if that has ended, the lease is left to
// expire and its error is returned. Unlike etcd, Close is idempotent (only
// the first call revokes; later calls return its result) and a lease that
// is already gone is not an error.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.Orphan()
		ctx, cancel := context.WithTimeout(s.octx, time.Duration(s.ttl)*time.Second)
		defer cancel()
		if _, err := s.client.Revoke(ctx, s.id); err != nil && !errors.Is(err, keel.ErrLeaseNotFound) {
			s.closeErr = err
		}
	})
	return s.closeErr
}
