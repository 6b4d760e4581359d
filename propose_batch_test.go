package keel

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordingBatch returns a proposalBatch whose apply records the data it
// hands over, and the record.
func recordingBatch(tb testing.TB) (*proposalBatch, func() []string) {
	tb.Helper()
	var mu sync.Mutex
	var applied []string
	b := newProposalBatch(func(p queuedProposal) {
		mu.Lock()
		applied = append(applied, string(p.data))
		mu.Unlock()
	})
	return b, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), applied...)
	}
}

// TestProposalBatchJoinsCollector checks that a proposal submitted while
// another proposer collects is queued, not applied by its own submitter,
// and that the collector then applies the whole queue in order.
func TestProposalBatchJoinsCollector(t *testing.T) {
	b, applied := recordingBatch(t)
	collecting := make(chan struct{})
	release := make(chan struct{})
	b.yield = func() {
		close(collecting)
		<-release
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.submit(queuedProposal{data: []byte("first")})
	}()
	<-collecting

	// The collector is parked in yield: these only queue.
	b.submit(queuedProposal{data: []byte("second")})
	b.submit(queuedProposal{data: []byte("third")})
	require.Empty(t, applied(), "a proposal was applied while the collector was still collecting")

	close(release)
	<-done
	require.Equal(t, []string{"first", "second", "third"}, applied())

	// With the collection over, the next submitter collects (and applies) itself.
	b.yield = func() {}
	b.submit(queuedProposal{data: []byte("fourth")})
	require.Equal(t, []string{"first", "second", "third", "fourth"}, applied())
}

// TestProposalBatchConcurrent submits from many goroutines at once and
// checks that every proposal is applied exactly once, including across the
// reuse of queue buffers between collections.
func TestProposalBatchConcurrent(t *testing.T) {
	const goroutines, each = 8, 300
	b, applied := recordingBatch(t)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				b.submit(queuedProposal{data: fmt.Appendf(nil, "%d/%d", g, i)})
			}
		})
	}
	wg.Wait()

	// Every submit returned, so every proposal was queued; the last
	// collector hands the queue over before its submit returns.
	got := applied()
	require.Len(t, got, goroutines*each)
	seen := make(map[string]bool, len(got))
	for _, d := range got {
		require.False(t, seen[d], "%s applied twice", d)
		seen[d] = true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.queue)
	require.False(t, b.collecting)
}

func TestQueuedProposalEnqueueTimeout(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration // from now
		min, max time.Duration
	}{
		{name: "future deadline", deadline: time.Hour, min: 59 * time.Minute, max: time.Hour},
		{name: "passed deadline", deadline: -time.Second, min: time.Millisecond, max: time.Millisecond},
		{name: "now", deadline: 0, min: time.Millisecond, max: time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := queuedProposal{deadline: time.Now().Add(tt.deadline)}.enqueueTimeout()
			require.GreaterOrEqual(t, got, tt.min)
			require.LessOrEqual(t, got, tt.max)
		})
	}
}
