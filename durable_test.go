package keel

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
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

// TestEntryNotDurableStaysInvisible checks the holds of store_durable.go:
// while the log syncs of the leader (or of both followers) are stalled, a
// put replicated everywhere must not be acknowledged, must not be applied
// by any member and must not be visible to any read; once the syncs
// complete it becomes visible everywhere.
func TestEntryNotDurableStaysInvisible(t *testing.T) {
	tests := []struct {
		name    string
		stalled func(c *testCluster, leader int) []int
	}{
		{"leader", func(_ *testCluster, leader int) []int { return []int{leader} }},
		{"both followers", func(c *testCluster, leader int) []int {
			var fs []int
			for i := range c.stores {
				if i != leader {
					fs = append(fs, i)
				}
			}
			return fs
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { testEntryNotDurable(t, tc.stalled) })
	}
}

func testEntryNotDurable(t *testing.T, stalled func(c *testCluster, leader int) []int) {
	fss := make([]*faultfs.FS, 3)
	stalls := make([]*syncStall, 3)
	c := newCluster(t, 3, func(cfg *Config) {
		i := int(cfg.ID[1] - '1')
		fss[i], stalls[i] = faultfs.New(), &syncStall{}
		fss[i].SetSyncHook(stalls[i].hook)
		cfg.WALFS, cfg.WALSegmentSize = fss[i], 1<<20
	})
	ctx := testCtx(t)
	li := c.leader()
	l := c.stores[li]
	_, err := l.Put(ctx, "before", "1")
	require.NoError(t, err)
	c.waitConverged()

	stalledIdx := stalled(c, li)
	for _, i := range stalledIdx {
		stalls[i].stall()
		defer stalls[i].resume()
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = l.Put(short, "k", "v")
	require.ErrorIs(t, err, ErrTimeout, "a put not durable on a majority was acknowledged")

	// Every member holds the entry (the leader replicated it), yet nobody
	// may apply it.
	for i, s := range c.stores {
		gr, err := s.Get(ctx, "k", WithSerializable())
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
		for _, s := range c.stores {
			gr, err := s.Get(ctx, "k", WithSerializable())
			if err != nil || len(gr.Kvs) != 1 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "the entry did not become visible after the leader's sync")
}
