// Package lock provides distributed locks, leader election and software
// transactional memory on top of Keel, with the API of etcd's
// client/v3/concurrency (v3.7): Session, Mutex, NewLocker, Election,
// ResumeElection and STM, with the same names, signatures, key scheme and
// conflict rules. It uses only the root package's public keel.Client
// interface, so it works with any implementation of it (a *keel.Store on
// any member).
//
//	s, _ := lock.NewSession(store, lock.WithTTL(10))
//	defer s.Close()
//	m := lock.NewMutex(s, "/locks/report")
//	if err := m.Lock(ctx); err != nil { ... }
//	// write guarded by m.IsOwner() or m.Token()
//	m.Unlock(ctx)
//
// # Porting from etcd
//
// Code written against go.etcd.io/etcd/client/v3/concurrency ports by
// swapping the import and the client:
//
//   - import concurrency "github.com/keeldb/keel/lock" in place of
//     "go.etcd.io/etcd/client/v3/concurrency" (or rename concurrency.X to
//     lock.X);
//   - pass a *keel.Store where etcd passes a *clientv3.Client (NewSession,
//     NewSTM and the deprecated NewSTM* constructors accept any
//     keel.Client);
//   - the clientv3 types in signatures become the root package's:
//     keel.LeaseID, keel.Cmp, keel.OpOption, *keel.GetResponse,
//     *keel.TxnResponse, and *keel.ResponseHeader for etcdserverpb's.
//
// Everything etcd's package exports is here. What differs, none of which
// stops etcd code from compiling:
//
//   - A Lock or Campaign blocked behind others returns ErrSessionExpired
//     as soon as the session ends or its own key is deleted (etcd waits on
//     until its turn comes); before returning success both re-read their
//     own key, so they never report a hold whose key is gone (etcd issue
//     11456). A Lock or Campaign interrupted by its ctx, or failing,
//     withdraws its key.
//   - Every hold and leadership carries a fencing token (Mutex.Token,
//     Election.Rev), and Election.Done closes when a leader loses its
//     leadership; Mutex.Token, Election.Done, Election.IsLeader,
//     Session.TTL and DefaultSessionTTL are Keel's additions.
//   - Session: Client returns the *keel.Store (nil when the session was
//     made on another keel.Client). Without WithContext the session's
//     context never ends (etcd uses the client's, which ends when the
//     client is closed); a closed Store ends the session anyway. TTLs are
//     raised to the store's minimum. A lease NewSession granted is revoked
//     if its first renewal fails. Close is idempotent and does not report
//     a lease that is already gone.
//   - Mutex: Unlock deletes the key only if it is still the one this
//     Mutex created. Key returns "" when not holding or waiting (etcd:
//     "\x00" after an Unlock or a failed TryLock). NewLocker's Lock and
//     Unlock use a context that never ends (etcd: the client's).
//   - Election: Proclaim returns ErrSessionExpired once the session has
//     ended. Resign keeps its state when the call fails, so it can be
//     retried (etcd forgets the leadership). ResumeElection adds "/" to
//     the prefix as NewElection does (etcd uses it as given, so a resumed
//     Election's Leader and Observe read a different range). Observe
//     survives a compaction of the revisions it watched, and its
//     responses have Count 1.
//   - STM: apply runs on the caller's goroutine, so a panic in it reaches
//     the caller (etcd runs it on its own goroutine, where a panic crashes
//     the process). Get with several keys returns keys[0]'s value and
//     reads the others into the read set (etcd returns whichever it finds
//     first in the write or read set). At the serializable levels the
//     first read of an attempt, by Get or Rev, fixes its snapshot. A nil
//     function or an unknown level returns ErrInvalidSTM (etcd panics).
//   - Errors: etcd's sentinels are returned unwrapped where etcd returns
//     them, so == comparisons work, but their texts start with "lock: ";
//     code that matches error strings must change. Failures of the store
//     are the keel package's errors (keel.ErrLeaseNotFound,
//     keel.ErrCompacted, ...) in place of rpctypes'. ErrEmptyPrefix,
//     ErrWatchLost and ErrInvalidSTM are Keel's.
//
// # Guarantees
//
//   - Every lock hold and every election win carries a fencing token: the
//     CreateRevision of the holder's key (Mutex.Token, Election.Rev). It
//     strictly increases from one holder of a mutex (or leader of an
//     election) to the next, including when a holder lost its session
//     without noticing.
//   - Contenders are served in the order they first asked (CreateRevision
//     order). A waiter watches only the key just before its own: a release
//     wakes one waiter, never the whole queue.
//   - An STM commit applies only if the checks of its isolation level hold
//     (see Isolation): at SerializableSnapshot, Serializable and
//     RepeatableReads, committed transactions are serializable.
//
// # Caveats
//
//   - A lock is only as good as the lease behind it. A holder paused for
//     longer than its TTL (GC, swap, a partition) loses the lock while it
//     believes it holds it, and Session.Done may close up to a third of the
//     TTL after the store revoked the lease. Never rely on holding the lock
//     alone for safety: guard every write with the fencing token, either by
//     putting Mutex.IsOwner / Election.IsLeader in the If of your Txn, or by
//     having the protected resource reject tokens lower than the highest it
//     has seen.
//   - TTLs are raised to the store's minimum (keel.Store.MinLeaseTTL), and a
//     lease whose holder died is revoked about one TTL (plus a failover)
//     later: that is how long the next waiter may wait after a crash.
//   - Mutexes and Elections of the same Session and prefix share one key;
//     contenders that must exclude each other need separate sessions.
//   - The watches used for waiting are served by the member the client talks
//     to; if that member closes, waiting calls fail with ErrWatchLost.
//   - An STM retries without limit or backoff while its commits conflict.
//     RepeatableReads and ReadCommitted read the member's local state,
//     which may lag the cluster: on a lagging member their attempts fail
//     (or, at ReadCommitted, write stale values) until it catches up.
package lock
