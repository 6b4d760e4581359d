package mvcc

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testSink buffers up to capacity undrained responses (0 = unbounded);
// stalled refuses everything. drain moves the buffer to got.
type testSink struct {
	mu       sync.Mutex
	capacity int
	stalled  bool
	buf      []WatchResponse
	got      []WatchResponse
	closed   int
	sending  bool // detects concurrent Send/Close
}

func (k *testSink) Send(r WatchResponse) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sending || k.closed > 0 {
		panic("testSink: Send concurrent with or after Close")
	}
	if k.stalled || (k.capacity > 0 && len(k.buf) >= k.capacity) {
		return false
	}
	k.buf = append(k.buf, r)
	return true
}

func (k *testSink) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed++
}

func (k *testSink) setStalled(v bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stalled = v
}

// drain moves buffered responses to got and returns all of got.
func (k *testSink) drain() []WatchResponse {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.got = append(k.got, k.buf...)
	k.buf = nil
	return append([]WatchResponse(nil), k.got...)
}

func (k *testSink) closeCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closed
}

// events returns every event received so far (draining first).
func (k *testSink) events() []*Event {
	var out []*Event
	for _, r := range k.drain() {
		out = append(out, r.Events...)
	}
	return out
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// lastRev is the ModRevision of the last event, 0 if none.
func lastRev(evs []*Event) int64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Kv.ModRevision
}

// waitEventsTo drains k until its last event has ModRevision >= rev.
func waitEventsTo(tb testing.TB, k *testSink, rev int64) []*Event {
	tb.Helper()
	var evs []*Event
	waitFor(tb, "events", func() bool {
		evs = k.events()
		return lastRev(evs) >= rev
	})
	return evs
}

// mustWatch starts a watcher and requires no error.
func mustWatch(tb testing.TB, s *Store, key, end string, opts WatchOptions, k *testSink) *Watcher {
	tb.Helper()
	w, err := s.Watch([]byte(key), bytesOrNil(end), opts, k)
	require.NoError(tb, err)
	return w
}

// checkResponses checks the structural guarantees of a watcher's
// responses: ascending revisions across and within responses, no revision
// in two responses, Revision >= every event.
func checkResponses(tb testing.TB, rs []WatchResponse) {
	tb.Helper()
	var last int64
	for i, r := range rs {
		if len(r.Events) == 0 {
			continue
		}
		require.Greater(tb, r.Events[0].Kv.ModRevision, last, "response %d repeats or reorders a revision", i)
		for j, ev := range r.Events {
			require.GreaterOrEqual(tb, ev.Kv.ModRevision, r.Events[max(0, j-1)].Kv.ModRevision, "response %d unordered", i)
			require.GreaterOrEqual(tb, r.Revision, ev.Kv.ModRevision, "response %d Revision", i)
		}
		last = r.Events[len(r.Events)-1].Kv.ModRevision
	}
}

// watchersCount returns the numbers of synced and unsynced watchers.
func (s *Store) watchersCount() (synced, unsynced int) {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	return len(s.watch.synced), len(s.watch.unsynced)
}
