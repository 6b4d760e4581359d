package mvcc

import "slices"

// notify hands the events of revision rev (just made visible by End) to
// the synced watchers. It runs under writeMu, so revisions are notified in
// order, and under the registry lock, which the catch-up goroutine also
// holds when it moves a watcher to synced: a watcher gets each revision
// either from history or from here, never both, never neither.
//
// Cost per event: one map lookup for single-key watchers, len(key)+1 map
// lookups for prefix watchers, and a scan of the synced watchers on other
// ranges (from-key or [key, end) that is not a prefix), plus the matches.
// A watcher whose sink is full becomes unsynced and keeps this one
// response (its memory bound: see the package documentation).
func (s *Store) notify(rev int64, evs []Event) {
	ws := &s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.notifiedRev = rev
	if len(ws.synced) == 0 {
		return
	}
	// Watchers share one copy of each event, with and without PrevKv; the
	// caller of End owns evs.
	full := make([]*Event, len(evs))
	bare := make([]*Event, len(evs))
	event := func(i int, prev bool) *Event {
		if full[i] == nil {
			full[i] = &Event{Type: evs[i].Type, Kv: evs[i].Kv.clone(), PrevKv: evs[i].PrevKv.clone()}
			bare[i] = &Event{Type: evs[i].Type, Kv: full[i].Kv}
		}
		if prev {
			return full[i]
		}
		return bare[i]
	}
	var touched []*Watcher
	for i := range evs {
		k := evs[i].Kv.Key
		add := func(w *Watcher) {
			if w.next > rev {
				return // starts at a future revision
			}
			if w.scratchRev != rev {
				w.scratchRev = rev
				w.scratch = w.scratch[:0]
				touched = append(touched, w)
			}
			w.scratch = append(w.scratch, event(i, w.prevKV))
		}
		for w := range ws.keys[string(k)] {
			add(w)
		}
		if len(ws.prefixes) > 0 {
			for l := 0; l <= len(k); l++ {
				for w := range ws.prefixes[string(k[:l])] {
					add(w)
				}
			}
		}
		for w := range ws.ranges {
			if w.matches(k) {
				add(w)
			}
		}
	}
	for _, w := range touched {
		resp := WatchResponse{Events: slices.Clone(w.scratch), Revision: rev}
		clear(w.scratch)
		w.scratch = w.scratch[:0]
		w.next = rev + 1
		if !w.sink.Send(resp) {
			w.held, w.heldFrom = &resp, rev
			ws.unsyncLocked(w)
		}
	}
}
