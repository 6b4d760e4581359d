package keel_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/keeltest"
)

// syncStall blocks the segment syncs of one faultfs while stalled.
type syncStall struct {
	mu      sync.Mutex
	stalled bool
	release chan struct{}
}

func (s *syncStall) hook(name string) {
	if !strings.HasSuffix(name, ".seg") {
		return
	}
	s.mu.Lock()
	stalled, ch := s.stalled, s.release
	s.mu.Unlock()
	if stalled {
		<-ch
	}
}

func (s *syncStall) stall() {
	s.mu.Lock()
	s.stalled, s.release = true, make(chan struct{})
	s.mu.Unlock()
}

func (s *syncStall) resume() {
	s.mu.Lock()
	if s.stalled {
		s.stalled = false
		close(s.release)
	}
	s.mu.Unlock()
}

// TestEntryNotDurableStaysInvisible checks the holds of package
// internal/durable (and the FSM's): while the log syncs of the leader (or
// of both followers) are stalled, a put replicated everywhere must not be
// acknowledged, must not be applied by any member and must not be visible
// to any read; once the syncs complete it becomes visible everywhere.
func TestEntryNotDurableStaysInvisible(t *testing.T) {
	tests := []struct {
		name    string
		stalled func(leader int) []int // the members whose syncs stall
	}{
		{name: "leader", stalled: func(leader int) []int { return []int{leader} }},
		{name: "both followers", stalled: func(leader int) []int { return []int{(leader + 1) % 3, (leader + 2) % 3} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { testEntryNotDurable(t, tc.stalled) })
	}
}

func testEntryNotDurable(t *testing.T, stalled func(leader int) []int) {
	fss := make([]*faultfs.FS, 3)
	stalls := make([]*syncStall, 3)
	for i := range 3 {
		fss[i], stalls[i] = faultfs.New(), &syncStall{}
		fss[i].SetSyncHook(stalls[i].hook)
	}
	c := keeltest.NewCluster(t, 3, keeltest.WithConfig(func(i int, cfg *keel.Config) {
		cfg.WALFS, cfg.WALSegmentSize = fss[i], 1<<20
	}))
	ctx := t.Context()
	l := c.Leader()
	_, err := l.Put(ctx, "before", "1")
	require.NoError(t, err)
	converge(t, c)

	stalledIdx := stalled(c.Index(l))
	for _, i := range stalledIdx {
		stalls[i].stall()
		defer stalls[i].resume()
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = l.Put(short, "k", "v")
	require.ErrorIs(t, err, keel.ErrTimeout, "a put not durable on a majority was acknowledged")

	// Every member holds the entry (the leader replicated it), yet nobody
	// may apply it.
	for i, s := range c.Members() {
		gr, err := s.Get(ctx, "k", keel.WithSerializable())
		require.NoError(t, err)
		require.Empty(t, gr.Kvs, "member %d applied an entry not durable on a majority", i)
	}
	lin, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if gr, err := l.Get(lin, "k"); err == nil {
		require.Empty(t, gr.Kvs, "a linearizable read saw an entry not durable on a majority")
	}

	for _, i := range stalledIdx {
		stalls[i].resume()
	}
	require.Eventually(t, func() bool {
		for _, s := range c.Members() {
			gr, err := s.Get(ctx, "k", keel.WithSerializable())
			if err != nil || len(gr.Kvs) != 1 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "the entry did not become visible after the leader's sync")
}
