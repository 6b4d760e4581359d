package lock

import (
	"errors"

	"github.com/keeldb/keel"
)

// Errors returned by the lock package. Check them with errors.Is; a
// returned error may wrap one of these, or an error of the keel package
// (keel.ErrNoLeader, keel.ErrTimeout, ...) when the store failed. The
// errors etcd's concurrency package has (ErrLocked, ErrSessionExpired,
// ErrLockReleased, ErrElectionNotLeader, ErrElectionNoLeader) are returned
// unwrapped where etcd returns them, so code that compares them with ==
// keeps working; their texts start with "lock: " instead of etcd's.
var (
	// ErrLocked is returned by Mutex.TryLock when another session holds
	// the lock.
	ErrLocked = errors.New("lock: locked by another session")
	// ErrSessionExpired is returned when the session's lease ended (it
	// expired, was revoked, or the session was closed or orphaned) before
	// or while a Lock or Campaign waited: the caller does not hold the lock
	// or leadership.
	ErrSessionExpired = errors.New("lock: session is expired")
	// ErrLockReleased is returned by Mutex.Unlock when the Mutex does not
	// hold the lock.
	ErrLockReleased = errors.New("lock: lock has already been released")
	// ErrElectionNotLeader is returned by Proclaim and Resign when this
	// Election is not (or no longer) the leader.
	ErrElectionNotLeader = errors.New("lock: election: not leader")
	// ErrElectionNoLeader is returned by Election.Leader when no candidate
	// is campaigning.
	ErrElectionNoLeader = errors.New("lock: election: no leader")
	// ErrEmptyPrefix is returned when a Mutex or Election was created with
	// an empty prefix.
	ErrEmptyPrefix = errors.New("lock: empty prefix")
	// ErrInvalidSTM is returned by NewSTM when called with a nil function
	// or an unknown isolation level.
	ErrInvalidSTM = errors.New("lock: invalid STM")
	// ErrWatchLost is returned when a watch a waiter relied on ended
	// without a reason (for example because the store was closed).
	ErrWatchLost = errors.New("lock: watch ended unexpectedly")
)

func isLeaseNotFound(err error) bool { return errors.Is(err, keel.ErrLeaseNotFound) }
