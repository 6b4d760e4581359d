package lock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
	"github.com/keeldb/keel/lock"
	"github.com/stretchr/testify/require"
)

// waitLimit bounds every wait for something the cluster does eventually.
const waitLimit = keeltest.WaitLimit

// openStore starts a single-member store, closed at cleanup.
func openStore(tb testing.TB) *keel.Store { return keeltest.NewCluster(tb, 1).Member(0) }

// newSession opens a session closed at cleanup.
func newSession(tb testing.TB, c keel.Client, opts ...lock.SessionOption) *lock.Session {
	tb.Helper()
	s, err := lock.NewSession(c, opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// testCtx returns the test's context, bounded by 2*waitLimit so that a
// Lock or Campaign that never returns fails the test instead of hanging it.
func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 2*waitLimit)
	tb.Cleanup(cancel)
	return ctx
}

// waitKeys waits until exactly n keys exist under prefix.
func waitKeys(tb testing.TB, c keel.Client, prefix string, n int64) {
	tb.Helper()
	require.Eventually(tb, func() bool {
		r, err := c.Get(tb.Context(), prefix, keel.WithPrefix(), keel.WithCountOnly())
		return err == nil && r.Count == n
	}, waitLimit, 10*time.Millisecond, "waiting for %d keys under %q", n, prefix)
}

// result returns the first value sent on done (the outcome of a Lock or
// Campaign running in another goroutine), failing tb if none comes within
// waitLimit.
func result(tb testing.TB, done <-chan error, what string) error {
	tb.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitLimit):
		tb.Fatalf("%s: still blocked after %v", what, waitLimit)
		return nil
	}
}

// closed reports whether ch is closed (or has a value) now.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// watchCall is one Watch call seen by recordingClient.
type watchCall struct {
	key     string
	isRange bool
}

// recordingClient records the watches made through it.
type recordingClient struct {
	keel.Client
	mu      sync.Mutex
	watches []watchCall
}

func (r *recordingClient) Watch(ctx context.Context, key string, opts ...keel.OpOption) keel.WatchChan {
	op := keel.OpGet(key, opts...)
	r.mu.Lock()
	r.watches = append(r.watches, watchCall{key: key, isRange: op.RangeBytes() != nil})
	r.mu.Unlock()
	return r.Client.Watch(ctx, key, opts...)
}

func (r *recordingClient) calls() []watchCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]watchCall(nil), r.watches...)
}

// stuckClient never renews leases: its KeepAlive returns a channel that
// stays open (as if the process were paused) until ctx ends, so the lease
// expires on the store's side while the session believes it is alive.
type stuckClient struct {
	keel.Client
	wg sync.WaitGroup
}

func (c *stuckClient) KeepAlive(ctx context.Context, id keel.LeaseID) (<-chan *keel.LeaseKeepAliveResponse, error) {
	ch := make(chan *keel.LeaseKeepAliveResponse)
	c.wg.Go(func() {
		<-ctx.Done()
		close(ch)
	})
	return ch, nil
}
