package keel_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// TestOtherClusterAtPeerAddress starts a member of another cluster on the
// address of a stopped member of a running cluster, as when a port or an
// IP is reused. The running cluster's leader keeps dialing that address;
// the other member must refuse its connections (raft messages from another
// cluster would make it step down and overwrite its log), and both
// clusters keep their own data.
func TestOtherClusterAtPeerAddress(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	l := c.Leader()
	_, err := l.Put(ctx, "a", "1")
	require.NoError(t, err)
	f := (c.Index(l) + 1) % 3
	c.Stop(f)

	// A single-member cluster with the stopped member's ID and address.
	refused := &countingHandler{match: "closing connection from another cluster"}
	other, err := keel.Open(keel.Config{ID: c.Config(f).ID, Dir: t.TempDir(), Listener: c.Listen(f), Logger: slog.New(refused)})
	require.NoError(t, err)
	defer func() { require.NoError(t, other.Close()) }()
	require.NotEqual(t, status(t, l).Header.ClusterId, status(t, other).Header.ClusterId)
	_, err = other.Put(ctx, "b", "2")
	require.NoError(t, err)
	term := status(t, other).Header.RaftTerm

	// The cluster writes on; its leader tries to reach the address.
	for i := range 20 {
		_, err := l.Put(ctx, "a", string(rune('a'+i)))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return refused.n.Load() >= 3 }, 10*time.Second, 10*time.Millisecond,
		"the other cluster's member never saw (and refused) the leader's connections")

	require.True(t, other.IsLeader(), "the other cluster's member was deposed")
	require.Equal(t, term, status(t, other).Header.RaftTerm)
	gr, err := other.Get(ctx, "a")
	require.NoError(t, err)
	require.Empty(t, gr.Kvs, "the other cluster's data leaked in")
	gr, err = other.Get(ctx, "b")
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 1)
	gr, err = l.Get(ctx, "b")
	require.NoError(t, err)
	require.Empty(t, gr.Kvs)
}

// countingHandler is a slog.Handler counting the records whose message is
// match.
type countingHandler struct {
	match string
	n     atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.match {
		h.n.Add(1)
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
