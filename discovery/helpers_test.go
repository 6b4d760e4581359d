package discovery_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/discovery"
	"github.com/keeldb/keel/keeltest"
	"github.com/stretchr/testify/require"
)

// waitLimit bounds every wait for something the cluster does eventually.
const waitLimit = keeltest.WaitLimit

// openStore starts a single-member store, closed at cleanup.
func openStore(tb testing.TB) *keel.Store { return keeltest.NewCluster(tb, 1).Member(0) }

// testCtx returns the test's context, bounded by 2*waitLimit so that a
// call that never returns fails the test instead of hanging it.
func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 2*waitLimit)
	tb.Cleanup(cancel)
	return ctx
}

// register registers in, deregistered at cleanup.
func register(tb testing.TB, reg *discovery.Registry, in discovery.Instance) *discovery.Registration {
	tb.Helper()
	r, err := reg.Register(testCtx(tb), in)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

// next returns the next update from ch, failing after waitLimit.
func next(tb testing.TB, ch <-chan discovery.Update) discovery.Update {
	tb.Helper()
	select {
	case u, ok := <-ch:
		require.True(tb, ok, "watch channel closed")
		return u
	case <-time.After(waitLimit):
		tb.Fatal("no update")
		return discovery.Update{}
	}
}

// ids returns the IDs of instances, in order.
func ids(ins []discovery.Instance) []string {
	out := []string{}
	for _, in := range ins {
		out = append(out, in.ID)
	}
	return out
}

// compactingClient makes the first watch fail as if compaction had
// removed its start revision, once release is closed.
type compactingClient struct {
	keel.Client
	release chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

func (c *compactingClient) Watch(ctx context.Context, key string, opts ...keel.OpOption) keel.WatchChan {
	first := false
	c.once.Do(func() { first = true })
	if !first {
		return c.Client.Watch(ctx, key, opts...)
	}
	ch := make(chan keel.WatchResponse, 1)
	c.wg.Go(func() {
		defer close(ch)
		select {
		case <-c.release:
			ch <- keel.WatchResponse{CompactRevision: 1, Canceled: true}
		case <-ctx.Done():
		}
	})
	return ch
}

// failingClient's reads fail with errs, one error per read, and succeed
// (no keys, at revision 7) after that; its watches deliver nothing until
// their ctx ends. It records when each read came. Any other call panics.
type failingClient struct {
	keel.Client
	errs  []error
	reads []time.Time // read by the test only once the watch has answered
}

func (c *failingClient) Get(context.Context, string, ...keel.OpOption) (*keel.GetResponse, error) {
	n := len(c.reads)
	c.reads = append(c.reads, time.Now())
	if n < len(c.errs) {
		return nil, c.errs[n]
	}
	return &keel.GetResponse{Header: &keel.ResponseHeader{Revision: 7}}, nil
}

func (c *failingClient) Watch(ctx context.Context, _ string, _ ...keel.OpOption) keel.WatchChan {
	ch := make(chan keel.WatchResponse)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}
