package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keeldb/keel"
)

// Mutex is a distributed lock on a key prefix, with the methods and key
// scheme of etcd's concurrency.Mutex (Lock, TryLock, Unlock, IsOwner, Key,
// Header) plus Token. Each contender puts the key prefix/<lease ID in hex>
// attached to its session's lease; the contender whose key has the lowest
// CreateRevision holds the lock, and the others queue in CreateRevision
// order. A waiter watches only the key just before its own, so releasing
// the lock wakes one waiter.
//
// # Fencing
//
// A lock held through a lease is not mutual exclusion on its own: a holder
// that pauses longer than its TTL loses the lock without knowing it. Every
// hold therefore carries a fencing token, Token, the CreateRevision of the
// holder's key: it strictly increases from one holder of the mutex to the
// next. Guard writes with it: put IsOwner in the If of your own Txn, or
// have the guarded resource reject tokens lower than the highest it has
// seen.
//
// # Concurrency
//
// Lock, TryLock and Unlock must not be called concurrently on one Mutex;
// the accessors (Key, Token, IsOwner, Header) are safe to call at any time.
// Mutexes of one Session on one prefix share their key: they are one
// contender (a second Lock returns at once). Contending goroutines or
// processes need sessions of their own.
type Mutex struct {
	s   *Session
	pfx string

	mu    sync.Mutex
	myKey string
	myRev int64
	held  bool
	hdr   *keel.ResponseHeader
}

// NewMutex returns a Mutex on prefix, taken through session s. It does not
// contact the store. An empty prefix makes every call fail with
// ErrEmptyPrefix.
func NewMutex(s *Session, prefix string) *Mutex {
	return &Mutex{s: s, pfx: prefix + "/", myRev: -1}
}

// Lock acquires the lock, waiting until every earlier contender has
// released it or lost its session. It returns ErrSessionExpired (unwrapped,
// so etcd code comparing with == still works) if the session ended or its
// key vanished before the lock was acquired; unlike etcd, a Lock blocked
// behind others returns as soon as that happens instead of waiting for its
// turn. If ctx ends while waiting, or a call fails, Lock withdraws (deletes
// its key) and returns the error. On success, Token is the fencing token
// of this hold.
func (m *Mutex) Lock(ctx context.Context) error {
	resp, err := m.tryAcquire(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	myKey, myRev := m.myKey, m.myRev
	m.mu.Unlock()
	if owner := rangeResp(resp, 1).Kvs; len(owner) == 0 || owner[0].CreateRevision == myRev {
		m.acquired(resp.Header)
		return nil
	}
	if err := waitTurn(ctx, m.s, m.pfx, myKey, myRev); err != nil {
		m.withdraw(myKey, myRev)
		return err
	}
	// The Jepsen fix: make sure our key (and so our session) still exists.
	gr, err := m.s.client.Get(ctx, myKey)
	if err != nil {
		m.withdraw(myKey, myRev)
		return err
	}
	if len(gr.Kvs) == 0 || gr.Kvs[0].CreateRevision != myRev {
		m.reset()
		return ErrSessionExpired
	}
	m.acquired(gr.Header)
	return nil
}

// TryLock acquires the lock if no other session holds it, and returns
// ErrLocked (unwrapped, leaving no key behind) if one does.
func (m *Mutex) TryLock(ctx context.Context) error {
	resp, err := m.tryAcquire(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	myKey, myRev := m.myKey, m.myRev
	m.mu.Unlock()
	if owner := rangeResp(resp, 1).Kvs; len(owner) == 0 || owner[0].CreateRevision == myRev {
		m.acquired(resp.Header)
		return nil
	}
	if _, err := m.s.client.Txn(ctx).
		If(keel.Compare(keel.CreateRevision(myKey), "=", myRev)).
		Then(keel.OpDelete(myKey)).Commit(); err != nil {
		return err
	}
	m.reset()
	return ErrLocked
}

// tryAcquire puts the contender's key unless it exists, and reads the
// current owner, in one transaction.
func (m *Mutex) tryAcquire(ctx context.Context) (*keel.TxnResponse, error) {
	if m.pfx == "/" {
		return nil, ErrEmptyPrefix
	}
	select {
	case <-m.s.Done():
		return nil, ErrSessionExpired
	default:
	}
	lease := m.s.Lease()
	myKey := fmt.Sprintf("%s%x", m.pfx, lease)
	m.mu.Lock()
	hadKey := m.myKey != ""
	m.mu.Unlock()
	getOwner := keel.OpGet(m.pfx, keel.WithFirstCreate()...)
	resp, err := m.s.client.Txn(ctx).
		If(keel.Compare(keel.CreateRevision(myKey), "=", 0)).
		Then(keel.OpPut(myKey, "", keel.WithLease(lease)), getOwner).
		Else(keel.OpGet(myKey), getOwner).
		Commit()
	if err != nil {
		if errors.Is(err, keel.ErrLeaseNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrSessionExpired, err)
		}
		if !hadKey {
			abandon(m.s, myKey) // the put may have applied: do not leave it queued
		}
		return nil, err
	}
	myRev := resp.Header.Revision
	if !resp.Succeeded {
		myRev = rangeResp(resp, 0).Kvs[0].CreateRevision
	}
	m.mu.Lock()
	m.myKey, m.myRev = myKey, myRev
	m.mu.Unlock()
	return resp, nil
}

// withdraw deletes the contender's key after a failed wait, unless it was
// replaced. It uses its own bounded context: the caller's may have ended.
func (m *Mutex) withdraw(myKey string, myRev int64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.s.ttl)*time.Second)
	defer cancel()
	_, _ = m.s.client.Txn(ctx).
		If(keel.Compare(keel.CreateRevision(myKey), "=", myRev)).
		Then(keel.OpDelete(myKey)).Commit()
	m.reset()
}

// Unlock releases the lock by deleting the holder's key. It returns
// ErrLockReleased if the Mutex does not hold it. Unlike etcd's, the delete
// is guarded by the key's CreateRevision, so an Unlock that comes after
// the session's key expired never deletes a newer key of the same
// session.
func (m *Mutex) Unlock(ctx context.Context) error {
	m.mu.Lock()
	myKey, myRev := m.myKey, m.myRev
	m.mu.Unlock()
	if myKey == "" || myRev <= 0 {
		return ErrLockReleased
	}
	if _, err := m.s.client.Txn(ctx).
		If(keel.Compare(keel.CreateRevision(myKey), "=", myRev)).
		Then(keel.OpDelete(myKey)).Commit(); err != nil {
		return err
	}
	m.reset()
	return nil
}

func (m *Mutex) reset() {
	m.mu.Lock()
	m.myKey, m.myRev, m.held = "", -1, false
	m.mu.Unlock()
}

func (m *Mutex) acquired(h *keel.ResponseHeader) {
	m.mu.Lock()
	m.hdr, m.held = h, true
	m.mu.Unlock()
}

// IsOwner returns a compare that holds while this Mutex's hold is current:
// put it in the If of a Txn to make a write conditional on still holding
// the lock.
func (m *Mutex) IsOwner() keel.Cmp {
	m.mu.Lock()
	defer m.mu.Unlock()
	return keel.Compare(keel.CreateRevision(m.myKey), "=", m.myRev)
}

// Key returns the contender's key while it holds or waits for the lock,
// "" otherwise (etcd returns "\x00" after an Unlock or a failed TryLock).
func (m *Mutex) Key() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.myKey
}

// Token returns the fencing token of the current hold: the CreateRevision
// of the holder's key. Tokens strictly increase from one holder of the
// mutex to the next. It is -1 when the Mutex does not hold the lock.
func (m *Mutex) Token() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.held {
		return -1
	}
	return m.myRev
}

// Header returns the response header of the call that acquired the lock.
func (m *Mutex) Header() *keel.ResponseHeader {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hdr
}

// locker adapts a Mutex to sync.Locker.
type locker struct{ m *Mutex }

// NewLocker returns a sync.Locker backed by a Mutex on pfx, as etcd's
// concurrency.NewLocker. sync.Locker has no context and no error: Lock
// waits without a deadline (but returns, by panicking, once the session
// ends) and both methods panic with the error of a Lock or Unlock that
// fails, as etcd's do.
func NewLocker(s *Session, pfx string) sync.Locker {
	return &locker{m: NewMutex(s, pfx)}
}

// Lock acquires the lock; it panics with the error if that fails.
func (l *locker) Lock() {
	if err := l.m.Lock(context.Background()); err != nil {
		panic(err)
	}
}

// Unlock releases the lock; it panics with the error if that fails (for
// example ErrLockReleased when the lock is not held).
func (l *locker) Unlock() {
	if err := l.m.Unlock(context.Background()); err != nil {
		panic(err)
	}
}
