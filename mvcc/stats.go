package mvcc

import "time"

// observeCommit reports a bbolt commit that began at start to
// Config.ObserveCommit.
func (s *Store) observeCommit(start time.Time) { s.cfg.ObserveCommit(time.Since(start)) }

// WatchStats describes the store's watchers at one moment.
type WatchStats struct {
	// Watchers is the number of active watchers.
	Watchers int
	// Unsynced is the number of watchers behind the store's revision:
	// their sink was full (a slow consumer), or they started in the past,
	// and the catch-up goroutine feeds them from history.
	Unsynced int
	// PendingEvents is the number of events held for unsynced watchers:
	// responses their sink refused, kept until it accepts them.
	PendingEvents int
	// MaxLag is the largest number of revisions, up to the store's
	// revision, whose events some watcher's sink has not accepted yet (0
	// when every watcher is synced).
	MaxLag int64
}

// WatchStats returns the current WatchStats. It holds the watch registry's
// lock while it counts, for a time proportional to the number of unsynced
// watchers.
func (s *Store) WatchStats() WatchStats {
	ws := &s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	st := WatchStats{Watchers: len(ws.synced) + len(ws.unsynced), Unsynced: len(ws.unsynced)}
	for w := range ws.unsynced {
		first := w.next // the first revision its consumer has not received
		if w.held != nil {
			st.PendingEvents += len(w.held.Events)
			first = w.heldFrom
		}
		st.MaxLag = max(st.MaxLag, ws.notifiedRev-first+1)
	}
	return st
}
