package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keeldb/keel"
)

// ack is a write the cluster acknowledged.
type ack struct {
	key, value string
	rev        int64 // the revision Put returned
}

// writer writes writes/000000, writes/000001, ... one after another,
// each through the next member in turn. A write that fails with a
// retryable error is retried on the next member; it is the same key and
// value, so a retry of a write whose first attempt landed after all does
// no harm. Its methods are safe for concurrent use.
type writer struct {
	stopc chan struct{} // closed to ask the writer to stop
	done  chan struct{} // closed when it has stopped
	once  sync.Once

	mu      sync.Mutex
	members []*keel.Store  // the members to write through
	acks    []ack          // the writes acknowledged, in order
	retries map[string]int // the writes retried on another member, by error
	err     error          // why the writer stopped early
}

// startWriter starts writing through members (nil entries are skipped)
// until stop or ctx ends.
func startWriter(ctx context.Context, members []*keel.Store) *writer {
	w := &writer{stopc: make(chan struct{}), done: make(chan struct{}), retries: make(map[string]int)}
	for _, m := range members {
		if m != nil {
			w.members = append(w.members, m)
		}
	}
	go func() {
		defer close(w.done)
		err := w.run(ctx)
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
	}()
	return w
}

// run writes until stop: the write in flight is finished first.
func (w *writer) run(ctx context.Context) error {
	next := 0 // the member for the next attempt
	for i := 0; ; i++ {
		select {
		case <-w.stopc:
			return nil
		default:
		}
		key, value := fmt.Sprintf("writes/%06d", i), strconv.Itoa(i)
		for {
			m := w.member(next)
			next++
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			pr, err := m.Put(actx, key, value)
			cancel()
			if err == nil {
				w.mu.Lock()
				w.acks = append(w.acks, ack{key: key, value: value, rev: pr.Header.Revision})
				w.mu.Unlock()
				break
			}
			reason := retryable(err)
			if reason == "" || ctx.Err() != nil {
				return fmt.Errorf("put %s on %s: %w", key, m.ID(), err)
			}
			w.mu.Lock()
			w.retries[reason]++
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return fmt.Errorf("put %s: %w", key, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// retryable returns the name of err if a write that failed with it may
// be tried again on another member, else "": the member was removed or
// stopped, there was no leader (the write was not applied), or the
// outcome is unknown (ErrTimeout: the write may have been applied, and
// writing the same value again does no harm).
func retryable(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{
		{keel.ErrRemoved, "ErrRemoved"}, // before ErrStopped, which it wraps
		{keel.ErrStopped, "ErrStopped"},
		{keel.ErrNoLeader, "ErrNoLeader"},
		{keel.ErrNotLeader, "ErrNotLeader"},
		{keel.ErrTimeout, "ErrTimeout"},
		{context.DeadlineExceeded, "DeadlineExceeded"},
	} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return ""
}

// member returns the member for attempt n.
func (w *writer) member(n int) *keel.Store {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.members[n%len(w.members)]
}

// add makes the writer write through m too.
func (w *writer) add(m *keel.Store) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.members = append(w.members, m)
}

// remove makes the writer stop writing through m.
func (w *writer) remove(m *keel.Store) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.members = slices.DeleteFunc(w.members, func(x *keel.Store) bool { return x == m })
}

// acked returns the number of writes acknowledged so far.
func (w *writer) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// waitAcked waits until n writes are acknowledged. It returns the
// writer's error if it stopped early.
func (w *writer) waitAcked(ctx context.Context, n int) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for w.acked() < n {
		select {
		case <-w.done:
			_, _, err := w.stop()
			return fmt.Errorf("writer: %w", errors.Join(err, errors.New("stopped early")))
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d writes: %w", n, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// stop stops the writer and returns the writes acknowledged, a summary
// of the retries, and the error that stopped it early, if any.
func (w *writer) stop() ([]ack, string, error) {
	w.once.Do(func() { close(w.stopc) })
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	var reasons []string
	for _, e := range slices.Sorted(maps.Keys(w.retries)) {
		n += w.retries[e]
		reasons = append(reasons, fmt.Sprintf("%d %s", w.retries[e], e))
	}
	summary := fmt.Sprintf("%d retried on another member", n)
	if n > 0 {
		summary += " (" + strings.Join(reasons, ", ") + ")"
	}
	return w.acks, summary, w.err
}
