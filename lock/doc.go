// Package lock provides distributed locks and leader election on top of
// Keel, mirroring etcd's client/v3/concurrency: Session, Mutex and
// Election, with the same key scheme and method names. It uses only the
// root package's public keel.Client interface, so it works with any
// implementation of it (a *keel.Store on any member).
//
//	s, _ := lock.NewSession(ctx, store, lock.WithTTL(10))
//	defer s.Close()
//	m := lock.NewMutex(s, "/locks/report")
//	if err := m.Lock(ctx); err != nil { ... }
//	// write guarded by m.IsOwner() or m.Token()
//	m.Unlock(ctx)
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
//   - Unlike etcd, a Lock or Campaign blocked behind others returns
//     ErrSessionExpired as soon as the session ends or its own key is
//     deleted; before returning success they re-read their own key, so
//     they never report a hold whose key is gone (etcd issue 11456).
//   - Unlike etcd, a leader learns that it lost leadership:
//     Election.Done closes when the leader key is deleted or the session
//     ends.
//   - A Lock or Campaign interrupted by its ctx (or failing) withdraws its
//     key, so no stale contender blocks the queue.
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
package lock
