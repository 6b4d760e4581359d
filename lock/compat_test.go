package lock_test

// Compile-time checks that lock keeps the names, signatures and method
// sets of etcd's client/v3/concurrency (v3.7), with keel's types for
// clientv3's: *keel.Store for *clientv3.Client, *keel.ResponseHeader for
// *etcdserverpb.ResponseHeader, keel.Cmp, keel.OpOption, keel.LeaseID,
// *keel.GetResponse and *keel.TxnResponse. Code written against etcd that
// stops compiling here would stop compiling for users too: a failure is a
// break of the porting promise, not a test to adjust.

import (
	"context"
	"sync"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/lock"
)

// The method sets of etcd's concurrency types, as etcd code uses them.
type (
	etcdSession interface {
		Client() *keel.Store
		Lease() keel.LeaseID
		Ctx() context.Context
		Done() <-chan struct{}
		Orphan()
		Close() error
	}
	etcdMutex interface {
		TryLock(ctx context.Context) error
		Lock(ctx context.Context) error
		Unlock(ctx context.Context) error
		IsOwner() keel.Cmp
		Key() string
		Header() *keel.ResponseHeader
	}
	etcdElection interface {
		Campaign(ctx context.Context, val string) error
		Proclaim(ctx context.Context, val string) error
		Resign(ctx context.Context) error
		Leader(ctx context.Context) (*keel.GetResponse, error)
		Observe(ctx context.Context) <-chan *keel.GetResponse
		Key() string
		Rev() int64
		Header() *keel.ResponseHeader
	}
	etcdSTM interface {
		Get(key ...string) string
		Put(key, val string, opts ...keel.OpOption)
		Rev(key string) int64
		Del(key string)
	}
)

var (
	_ etcdSession  = (*lock.Session)(nil)
	_ etcdMutex    = (*lock.Mutex)(nil)
	_ etcdElection = (*lock.Election)(nil)
	// STM has exactly etcd's exported methods, no more.
	_ etcdSTM  = lock.STM(nil)
	_ lock.STM = etcdSTM(nil)
)

// The package's functions, called as etcd code calls them: with a
// *keel.Store where etcd passes a *clientv3.Client.
var (
	_ = func(cli *keel.Store, opts ...lock.SessionOption) (*lock.Session, error) {
		return lock.NewSession(cli, opts...)
	}
	_ func(int) lock.SessionOption             = lock.WithTTL
	_ func(keel.LeaseID) lock.SessionOption    = lock.WithLease
	_ func(context.Context) lock.SessionOption = lock.WithContext

	_ func(*lock.Session, string) *lock.Mutex                   = lock.NewMutex
	_ func(*lock.Session, string) sync.Locker                   = lock.NewLocker
	_ func(*lock.Session, string) *lock.Election                = lock.NewElection
	_ func(*lock.Session, string, string, int64) *lock.Election = lock.ResumeElection

	_ = func(cli *keel.Store, apply func(lock.STM) error, opts ...lock.STMOption) (*keel.TxnResponse, error) {
		return lock.NewSTM(cli, apply, opts...)
	}
	_ func(lock.Isolation) lock.STMOption  = lock.WithIsolation
	_ func(context.Context) lock.STMOption = lock.WithAbortContext
	_ func(...string) lock.STMOption       = lock.WithPrefetch
	_                                      = func(ctx context.Context, cli *keel.Store, apply func(lock.STM) error) {
		_, _ = lock.NewSTMRepeatable(ctx, cli, apply)
		_, _ = lock.NewSTMSerializable(ctx, cli, apply)
		_, _ = lock.NewSTMReadCommitted(ctx, cli, apply)
	}

	_ error = lock.ErrLocked
	_ error = lock.ErrSessionExpired
	_ error = lock.ErrLockReleased
	_ error = lock.ErrElectionNotLeader
	_ error = lock.ErrElectionNoLeader
)

// The isolation levels have etcd's values (an out-of-range constant index
// does not compile).
var (
	_ = [1]int{}[lock.SerializableSnapshot-0]
	_ = [1]int{}[lock.Serializable-1]
	_ = [1]int{}[lock.RepeatableReads-2]
	_ = [1]int{}[lock.ReadCommitted-3]
)
