package lock_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
	"github.com/keeldb/keel/lock"
	"github.com/stretchr/testify/require"
)

func TestMutexBasics(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	tests := []struct {
		name string
		run  func(t *testing.T, a, b *lock.Session)
	}{
		{"lock unlock", func(t *testing.T, a, _ *lock.Session) {
			m := lock.NewMutex(a, "p1")
			require.Equal(t, int64(-1), m.Token())
			require.NoError(t, m.Lock(ctx))
			require.Positive(t, m.Token())
			require.Equal(t, fmt.Sprintf("p1/%x", a.Lease()), m.Key())
			require.NotNil(t, m.Header())
			require.NoError(t, m.Unlock(ctx))
			require.Equal(t, int64(-1), m.Token())
			require.ErrorIs(t, m.Unlock(ctx), lock.ErrLockReleased)
		}},
		{"trylock free", func(t *testing.T, a, _ *lock.Session) {
			m := lock.NewMutex(a, "p2")
			require.NoError(t, m.TryLock(ctx))
			require.NoError(t, m.Unlock(ctx))
		}},
		{"trylock held elsewhere leaves no key", func(t *testing.T, a, b *lock.Session) {
			ma, mb := lock.NewMutex(a, "p3"), lock.NewMutex(b, "p3")
			require.NoError(t, ma.Lock(ctx))
			require.ErrorIs(t, mb.TryLock(ctx), lock.ErrLocked)
			require.Equal(t, int64(-1), mb.Token())
			waitKeys(t, st, "p3/", 1)
			require.NoError(t, ma.Unlock(ctx))
			require.NoError(t, mb.TryLock(ctx))
			require.NoError(t, mb.Unlock(ctx))
		}},
		{"relock by same session", func(t *testing.T, a, _ *lock.Session) {
			m := lock.NewMutex(a, "p4")
			require.NoError(t, m.Lock(ctx))
			tok := m.Token()
			require.NoError(t, lock.NewMutex(a, "p4").TryLock(ctx), "same session, same key")
			require.Equal(t, tok, m.Token())
			require.NoError(t, m.Unlock(ctx))
		}},
		{"empty prefix", func(t *testing.T, a, _ *lock.Session) {
			require.ErrorIs(t, lock.NewMutex(a, "").Lock(ctx), lock.ErrEmptyPrefix)
			require.ErrorIs(t, lock.NewMutex(a, "").TryLock(ctx), lock.ErrEmptyPrefix)
		}},
		{"is owner guards a txn", func(t *testing.T, a, b *lock.Session) {
			ma, mb := lock.NewMutex(a, "p5"), lock.NewMutex(b, "p5")
			require.NoError(t, ma.Lock(ctx))
			stale, tokA := ma.IsOwner(), ma.Token()
			resp, err := st.Txn(ctx).If(stale).Then(keel.OpPut("res5", "a")).Commit()
			require.NoError(t, err)
			require.True(t, resp.Succeeded)
			require.NoError(t, ma.Unlock(ctx))
			require.NoError(t, mb.Lock(ctx))
			require.Greater(t, mb.Token(), tokA)
			resp, err = st.Txn(ctx).If(stale).Then(keel.OpPut("res5", "stale")).Commit()
			require.NoError(t, err)
			require.False(t, resp.Succeeded, "a former holder's guard must fail")
			require.NoError(t, mb.Unlock(ctx))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newSession(t, st), newSession(t, st))
		})
	}
}

func TestMutexLockOnEndedSession(t *testing.T) {
	st := openStore(t)
	s := newSession(t, st)
	require.NoError(t, s.Close())
	require.ErrorIs(t, lock.NewMutex(s, "p").Lock(testCtx(t)), lock.ErrSessionExpired)
}

// testSeed returns the seed of a randomized test, from LOCK_TEST_SEED if
// set, and logs it.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("LOCK_TEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
		seed = n
	}
	t.Logf("seed %d (set LOCK_TEST_SEED to replay)", seed)
	return seed
}

// TestMutexContention runs many sessions, spread over the members of a
// 3-member cluster, through one mutex. Every holder writes a shared
// resource key guarded by IsOwner and records its fencing token; the
// tokens must strictly increase in the order the holds happened, and no
// two holds may overlap. A loaded machine can delay heartbeats enough for
// the cluster to change leaders mid-run, which leaves the outcome of a
// write in flight unknown (keel.ErrTimeout); every step here is safe to
// repeat, so such a step is retried (retryUnknown), and the checks must
// hold across the change.
func TestMutexContention(t *testing.T) {
	stores := keeltest.NewCluster(t, 3).Members()
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	const workers, rounds = 6, 3
	var (
		inside atomic.Int32
		mu     sync.Mutex
		tokens []int64
		wg     sync.WaitGroup
	)
	errs := make(chan error, workers*(rounds+1)) // an overlap per round, then the error that stops a worker
	for w := range workers {
		st := stores[w%len(stores)]
		s := newSession(t, st, lock.WithTTL(10))
		pause := time.Duration(rng.IntN(20)) * time.Millisecond
		wg.Go(func() {
			m := lock.NewMutex(s, "contended")
			for range rounds {
				if err := retryUnknown(ctx, t, func() error { return m.Lock(ctx) }); err != nil {
					errs <- err
					cancel() // the others would wait for a lock this worker may hold
					return
				}
				if n := inside.Add(1); n != 1 {
					errs <- fmt.Errorf("%d holders at once", n)
				}
				tok := m.Token()
				mu.Lock()
				tokens = append(tokens, tok)
				mu.Unlock()
				err := retryUnknown(ctx, t, func() error { return writeResource(ctx, st, m, tok) })
				time.Sleep(pause) // the hold's work: a random length varies the interleavings
				inside.Add(-1)
				if err == nil {
					err = retryUnknown(ctx, t, func() error { return m.Unlock(ctx) })
				}
				if err != nil {
					errs <- err
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, tokens, workers*rounds)
	for i := 1; i < len(tokens); i++ {
		require.Greater(t, tokens[i], tokens[i-1], "fencing tokens must strictly increase: %v", tokens)
	}
	// The resource saw the same tokens, in the same order.
	var seen []int64
	gr, err := stores[0].Get(ctx, "resource")
	require.NoError(t, err)
	for kv := gr.Kvs[0]; ; {
		n, err := strconv.ParseInt(string(kv.Value), 10, 64)
		require.NoError(t, err)
		seen = append([]int64{n}, seen...)
		if kv.Version == 1 {
			break
		}
		prev, err := stores[0].Get(ctx, "resource", keel.WithRev(kv.ModRevision-1))
		require.NoError(t, err)
		kv = prev.Kvs[0]
	}
	require.Equal(t, tokens, seen)
}

// writeResource writes tok to the key "resource", guarded by m.IsOwner.
// Only the holder writes it, so if it holds tok already, an earlier try
// whose outcome was unknown did apply, and it is not written again.
func writeResource(ctx context.Context, st *keel.Store, m *lock.Mutex, tok int64) error {
	val := strconv.FormatInt(tok, 10)
	gr, err := st.Get(ctx, "resource")
	if err != nil || (len(gr.Kvs) == 1 && string(gr.Kvs[0].Value) == val) {
		return err
	}
	resp, err := st.Txn(ctx).If(m.IsOwner()).Then(keel.OpPut("resource", val)).Commit()
	if err == nil && !resp.Succeeded {
		err = errors.New("guarded write refused while holding the lock")
	}
	return err
}

// retryUnknown calls op, which must be safe to repeat, again for as long
// as it fails with keel.ErrTimeout (its outcome unknown, as when the
// leader changed) and ctx lasts.
func retryUnknown(ctx context.Context, tb testing.TB, op func() error) error {
	for {
		err := op()
		if !errors.Is(err, keel.ErrTimeout) {
			return err
		}
		tb.Logf("retrying: %v", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestMutexWakesOnlyPredecessor checks that each waiter watches only the
// key just before its own (and its own key), never the prefix, and that
// waiters acquire in the order they queued, one release waking one waiter.
func TestMutexWakesOnlyPredecessor(t *testing.T) {
	st := openStore(t)
	ctx := testCtx(t)
	holder := lock.NewMutex(newSession(t, st), "q")
	require.NoError(t, holder.Lock(ctx))

	const n = 3
	clients := make([]*recordingClient, n)
	mutexes := make([]*lock.Mutex, n)
	done := make([]chan error, n)
	for i := range n {
		clients[i] = &recordingClient{Client: st}
		mutexes[i] = lock.NewMutex(newSession(t, clients[i]), "q")
		done[i] = make(chan error, 1)
		go func() { done[i] <- mutexes[i].Lock(ctx) }()
		waitKeys(t, st, "q/", int64(i+2)) // queue in a known order
	}
	keys := []string{holder.Key()}
	for i := range n {
		require.Eventually(t, func() bool { return mutexes[i].Key() != "" }, waitLimit, 10*time.Millisecond)
		keys = append(keys, mutexes[i].Key())
	}
	for i, c := range clients {
		require.Eventually(t, func() bool { return len(c.calls()) >= 2 }, waitLimit, 10*time.Millisecond)
		for _, call := range c.calls() {
			require.False(t, call.isRange, "waiter %d watched a range", i)
			require.Contains(t, []string{keys[i], keys[i+1]}, call.key, "waiter %d watched a key other than its predecessor's or its own", i)
		}
	}

	release := func(m *lock.Mutex) { require.NoError(t, m.Unlock(ctx)) }
	release(holder)
	for i := range n {
		require.NoError(t, result(t, done[i], fmt.Sprintf("waiter %d", i)))
		require.Greater(t, mutexes[i].Token(), int64(0))
		// The waiters behind must stay blocked while waiter i holds the
		// lock. A wrong wake-up takes a watch event and a read to return,
		// well within the window. len peeks without taking the result.
		require.Never(t, func() bool {
			for j := i + 1; j < n; j++ {
				if len(done[j]) > 0 {
					return true
				}
			}
			return false
		}, 200*time.Millisecond, 10*time.Millisecond, "a waiter behind waiter %d returned while it holds the lock", i)
		release(mutexes[i])
	}
}

// TestLockAbortedWhenSessionEnds checks that a Lock blocked behind a holder
// returns ErrSessionExpired when its session ends, however it ends, and
// leaves no key behind.
func TestLockAbortedWhenSessionEnds(t *testing.T) {
	tests := []struct {
		name   string
		client func(st *keel.Store) keel.Client
		end    func(t *testing.T, st *keel.Store, s *lock.Session)
	}{
		{"revoked elsewhere", nil, func(t *testing.T, st *keel.Store, s *lock.Session) {
			_, err := st.Revoke(t.Context(), s.Lease())
			require.NoError(t, err)
		}},
		{"closed", nil, func(t *testing.T, _ *keel.Store, s *lock.Session) { require.NoError(t, s.Close()) }},
		{"orphaned", nil, func(_ *testing.T, _ *keel.Store, s *lock.Session) { s.Orphan() }},
		// The keepalive silently stops (a paused process): the store
		// expires the lease; the waiter sees its own key vanish.
		{"expired without notice", func(st *keel.Store) keel.Client { return &stuckClient{Client: st} }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			ctx := testCtx(t)
			holder := lock.NewMutex(newSession(t, st), "x")
			require.NoError(t, holder.Lock(ctx))
			var c keel.Client = st
			if tc.client != nil {
				c = tc.client(st)
			}
			s := newSession(t, c, lock.WithTTL(1))
			m := lock.NewMutex(s, "x")
			done := make(chan error, 1)
			go func() { done <- m.Lock(ctx) }()
			waitKeys(t, st, "x/", 2)
			if tc.end != nil {
				tc.end(t, st, s)
			}
			require.ErrorIs(t, result(t, done, "Lock after its session ended"), lock.ErrSessionExpired)
			require.Equal(t, int64(-1), m.Token())
			waitKeys(t, st, "x/", 1)
			require.NoError(t, holder.Unlock(ctx))
			if sc, ok := c.(*stuckClient); ok {
				s.Orphan()
				sc.wg.Wait()
			}
		})
	}
}

func TestLockCanceledWithdraws(t *testing.T) {
	st := openStore(t)
	holder := lock.NewMutex(newSession(t, st), "c")
	require.NoError(t, holder.Lock(testCtx(t)))
	ctx, cancel := context.WithCancel(t.Context())
	m := lock.NewMutex(newSession(t, st), "c")
	done := make(chan error, 1)
	go func() { done <- m.Lock(ctx) }()
	waitKeys(t, st, "c/", 2)
	cancel()
	require.ErrorIs(t, result(t, done, "canceled Lock"), context.Canceled)
	waitKeys(t, st, "c/", 1)
	require.Equal(t, "", m.Key())
}

func TestNewLocker(t *testing.T) {
	st := openStore(t)
	a, b := newSession(t, st), newSession(t, st)
	la, lb := lock.NewLocker(a, "locker"), lock.NewLocker(b, "locker")
	la.Lock()
	acquired := make(chan struct{})
	go func() {
		lb.Lock()
		close(acquired)
	}()
	waitKeys(t, st, "locker/", 2)
	require.False(t, closed(acquired), "second Locker acquired while the first holds")
	la.Unlock()
	select {
	case <-acquired:
	case <-time.After(waitLimit):
		t.Fatal("second Locker still blocked after Unlock")
	}
	lb.Unlock()
	waitKeys(t, st, "locker/", 0)
	require.PanicsWithError(t, lock.ErrLockReleased.Error(), lb.Unlock, "Unlock of a released Locker panics, as in etcd")
}
