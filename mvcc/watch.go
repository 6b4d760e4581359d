package mvcc

import (
	"bytes"
	"sync"
)

// WatchResponse is one delivery to a watcher.
type WatchResponse struct {
	// Events are the watcher's events of whole revisions only, in
	// ascending revision order (change order within a revision). A
	// revision is never split across responses. Events are shared between
	// the watchers of a store and must not be modified.
	Events []*Event
	// Revision is the store's revision when the response was produced
	// (>= every event's ModRevision).
	Revision int64
	// CompactRevision is non-zero only in the final response of a watcher
	// canceled because the next revision it needed was compacted.
	CompactRevision int64
}

// IsProgressNotify reports an empty response that only carries Revision:
// every event of the watcher up to Revision has been delivered.
func (r WatchResponse) IsProgressNotify() bool {
	return len(r.Events) == 0 && r.CompactRevision == 0
}

// WatchSink receives a watcher's responses. The store never blocks on it.
//
// Send and Close are called with the store's watch lock held: they must not
// block and must not call back into the Store. Send and Close on one sink
// are never called concurrently.
type WatchSink interface {
	// Send delivers r without blocking. false means "full": the store
	// keeps r (it is the one response held for this watcher), retries it
	// every Config.WatchSyncInterval and then continues from history
	// (catch-up), so nothing is lost or duplicated.
	Send(r WatchResponse) bool
	// Close is called exactly once, after the last Send, when the watcher
	// ends: Cancel, compaction cancel (after the CompactRevision response
	// was accepted by Send), or Store Close / fail-stop.
	Close()
}

// WatchOptions are the options of [Store.Watch].
type WatchOptions struct {
	// StartRev is the first revision to deliver. 0 means the current
	// revision + 1. A revision above the current one waits for it; one at
	// or below replays history from StartRev first. Negative values give
	// ErrInvalidWatch. Below [Store.CompactRev] the watcher is canceled at
	// once with a CompactRevision response.
	StartRev int64
	// PrevKV fills Event.PrevKv: from the txn for live events, by reading
	// the key at ModRevision-1 when catching up (nil if that revision was
	// compacted or the key did not exist).
	PrevKV bool
	// ProgressNotify sends a progress response (no events, Revision = the
	// last notified revision) every Config.WatchProgressInterval while the
	// watcher is synced.
	ProgressNotify bool
}

type matchKind uint8

const (
	matchKey    matchKind = iota // one key
	matchPrefix                  // every key with prefix key ("" = all keys)
	matchRange                   // [key, end), end nil = no upper bound
)

type watcherState uint8

const (
	stateSynced watcherState = iota
	stateUnsynced
	stateClosed
)

// Watcher is one watch on a Store, created by [Store.Watch]. Its methods
// are safe for concurrent use.
type Watcher struct {
	s        *Store
	id       int64
	kind     matchKind
	key, end []byte // end only for matchRange (nil: no upper bound)
	prevKV   bool
	progress bool
	sink     WatchSink

	// Guarded by s.watch.mu.
	state watcherState
	// next is the first revision not yet handed to the sink (nor held).
	next int64
	// held is a response Send refused, covering [heldFrom, next).
	held     *WatchResponse
	heldFrom int64
	// scratch collects this watcher's events of revision scratchRev in
	// notify.
	scratch    []*Event
	scratchRev int64
}

// ID returns the watcher's ID, unique per store.
func (w *Watcher) ID() int64 { return w.id }

// Cancel ends the watcher; the sink's Close is called synchronously,
// before Cancel returns (unless the watcher had already ended). Cancel is
// idempotent.
func (w *Watcher) Cancel() {
	ws := &w.s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.endLocked(w)
}

// matches reports whether k is in the watcher's range.
func (w *Watcher) matches(k []byte) bool {
	switch w.kind {
	case matchKey:
		return bytes.Equal(k, w.key)
	case matchPrefix:
		return bytes.HasPrefix(k, w.key)
	}
	return bytes.Compare(k, w.key) >= 0 && (w.end == nil || bytes.Compare(k, w.end) < 0)
}

// watchState is the store's watcher registry. Lock order: the Store's mu
// before watchState.mu (never the reverse); writeMu and commitMu before
// both.
type watchState struct {
	mu     sync.Mutex
	nextID int64
	closed bool
	gen    uint64 // the Store's restoreGen as seen by the registry
	// notifiedRev is the last revision handed to notify: every synced
	// watcher has been given every event up to it.
	notifiedRev int64

	// Synced watchers, by match kind: single keys by key, prefixes by
	// prefix, other ranges in a set scanned per event.
	keys     map[string]map[*Watcher]struct{}
	prefixes map[string]map[*Watcher]struct{}
	ranges   map[*Watcher]struct{}
	synced   map[*Watcher]struct{}
	unsynced map[*Watcher]struct{}

	kick chan struct{}
}

func (ws *watchState) init(rev int64) {
	ws.notifiedRev = rev
	ws.keys = map[string]map[*Watcher]struct{}{}
	ws.prefixes = map[string]map[*Watcher]struct{}{}
	ws.ranges = map[*Watcher]struct{}{}
	ws.synced = map[*Watcher]struct{}{}
	ws.unsynced = map[*Watcher]struct{}{}
	ws.kick = make(chan struct{}, 1)
}

func addTo(m map[string]map[*Watcher]struct{}, k string, w *Watcher) {
	set := m[k]
	if set == nil {
		set = map[*Watcher]struct{}{}
		m[k] = set
	}
	set[w] = struct{}{}
}

func removeFrom(m map[string]map[*Watcher]struct{}, k string, w *Watcher) {
	if set := m[k]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// syncLocked makes w synced.
func (ws *watchState) syncLocked(w *Watcher) {
	delete(ws.unsynced, w)
	w.state = stateSynced
	ws.synced[w] = struct{}{}
	switch w.kind {
	case matchKey:
		addTo(ws.keys, string(w.key), w)
	case matchPrefix:
		addTo(ws.prefixes, string(w.key), w)
	default:
		ws.ranges[w] = struct{}{}
	}
}

// removeSyncedLocked takes w out of the synced groups.
func (ws *watchState) removeSyncedLocked(w *Watcher) {
	delete(ws.synced, w)
	switch w.kind {
	case matchKey:
		removeFrom(ws.keys, string(w.key), w)
	case matchPrefix:
		removeFrom(ws.prefixes, string(w.key), w)
	default:
		delete(ws.ranges, w)
	}
}

// unsyncLocked makes w unsynced (caught up by the sync goroutine).
func (ws *watchState) unsyncLocked(w *Watcher) {
	if w.state == stateSynced {
		ws.removeSyncedLocked(w)
	}
	w.state = stateUnsynced
	ws.unsynced[w] = struct{}{}
}

// endLocked removes w and closes its sink, once.
func (ws *watchState) endLocked(w *Watcher) {
	switch w.state {
	case stateClosed:
		return
	case stateSynced:
		ws.removeSyncedLocked(w)
	case stateUnsynced:
		delete(ws.unsynced, w)
	}
	w.state = stateClosed
	w.held, w.scratch = nil, nil
	w.sink.Close()
}

// closeAllWatchers ends every watcher (Store Close or fail-stop) and
// refuses new ones.
func (s *Store) closeAllWatchers() {
	ws := &s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.closed = true
	for w := range ws.synced {
		ws.endLocked(w)
	}
	for w := range ws.unsynced {
		ws.endLocked(w)
	}
}

// prefixEnd returns the end of the range of keys with prefix p (etcd's
// GetPrefixRangeEnd), or nil when there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := cloneBytes(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Watch starts a watcher on the range described by key and end, with the
// same encoding as [Store.Range]: end nil or empty = the single key, end
// "\x00" = every key >= key, key "\x00" with end "\x00" = every key,
// otherwise [key, end). An empty key means "\x00" (as in etcd). end <= key
// (not from-key), a negative StartRev or a nil sink give ErrInvalidWatch;
// a closed or failed store gives ErrClosed or its Err.
//
// A watcher starting at or below the current revision is first caught up
// from history by a background goroutine; one starting later is synced at
// once. If StartRev is below CompactRev, the watcher sends the
// CompactRevision response (at once, or as soon as Send accepts it) and
// ends. See the package documentation for the guarantees.
func (s *Store) Watch(key, end []byte, opts WatchOptions, sink WatchSink) (*Watcher, error) {
	if sink == nil || opts.StartRev < 0 {
		return nil, ErrInvalidWatch
	}
	if len(key) == 0 {
		key = []byte{0}
	}
	w := &Watcher{s: s, key: cloneBytes(key), prevKV: opts.PrevKV, progress: opts.ProgressNotify, sink: sink}
	switch {
	case len(end) == 0:
		w.kind = matchKey
	case len(end) == 1 && end[0] == 0:
		if len(key) == 1 && key[0] == 0 {
			w.kind, w.key = matchPrefix, []byte{}
		} else {
			w.kind = matchRange
		}
	case bytes.Compare(end, key) <= 0:
		return nil, ErrInvalidWatch
	case bytes.Equal(end, prefixEnd(key)):
		w.kind = matchPrefix
	default:
		w.kind, w.end = matchRange, cloneBytes(end)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readableLocked(); err != nil {
		return nil, err
	}
	ws := &s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		return nil, ErrClosed
	}
	ws.nextID++
	w.id = ws.nextID
	switch cur := s.currentRev; {
	case opts.StartRev == 0:
		w.next = cur + 1
		ws.syncLocked(w)
	case opts.StartRev > cur:
		w.next = opts.StartRev
		ws.syncLocked(w)
	case opts.StartRev < s.compactRev:
		w.next = opts.StartRev
		ws.unsyncLocked(w)
		if w.sink.Send(WatchResponse{Revision: cur, CompactRevision: s.compactRev}) {
			ws.endLocked(w)
		}
	default:
		w.next = opts.StartRev
		ws.unsyncLocked(w)
		s.kickWatchSync()
	}
	return w, nil
}

// RequestProgress sends every synced watcher a progress response now
// (Revision = the last notified revision), best effort: a watcher whose
// sink is full is skipped, and unsynced watchers get none (as in etcd).
func (s *Store) RequestProgress() { s.sendProgress(true) }

// sendProgress sends progress responses to synced watchers: all of them,
// or those created with ProgressNotify.
func (s *Store) sendProgress(all bool) {
	ws := &s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for w := range ws.synced {
		if all || w.progress {
			_ = w.sink.Send(WatchResponse{Revision: ws.notifiedRev})
		}
	}
}

// restore moves every watcher to catch-up after Store.Restore installed a
// new state at revision rev (s.mu held): held responses are dropped and
// re-read from the restored history.
func (ws *watchState) restore(gen uint64, rev int64) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.gen = gen
	for w := range ws.synced {
		// A synced watcher has seen everything up to notifiedRev, even if
		// nothing in its range changed.
		w.next = max(w.next, ws.notifiedRev+1)
		ws.unsyncLocked(w)
	}
	ws.notifiedRev = rev
	for w := range ws.unsynced {
		if w.held != nil {
			w.next, w.held = w.heldFrom, nil
		}
	}
}
