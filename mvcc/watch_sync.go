package mvcc

import (
	"sort"
	"time"
)

// maxSyncPasses bounds the catch-up passes of one wake-up before the
// goroutine yields (it re-kicks itself when work remains).
const maxSyncPasses = 64

func (s *Store) kickWatchSync() {
	select {
	case s.watch.kick <- struct{}{}:
	default:
	}
}

// runWatchSync is the one goroutine that catches up unsynced watchers and
// sends periodic progress responses, until Close.
func (s *Store) runWatchSync() {
	defer s.wg.Done()
	syncT := time.NewTicker(s.cfg.WatchSyncInterval)
	defer syncT.Stop()
	progT := time.NewTicker(s.cfg.WatchProgressInterval)
	defer progT.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-progT.C:
			s.sendProgress(false)
		case <-s.watch.kick:
			s.syncWatchers()
		case <-syncT.C:
			s.syncWatchers()
		}
	}
}

// syncWatchers runs catch-up passes while they make progress.
func (s *Store) syncWatchers() {
	for range maxSyncPasses {
		select {
		case <-s.stopc:
			return
		default:
		}
		if !s.syncPass() {
			return
		}
	}
	s.kickWatchSync()
}

// syncPass is one catch-up pass:
//
//  1. under the registry lock: re-send held responses; move watchers that
//     have everything up to the last notified revision to synced; take
//     the others (next <= notified revision) as candidates;
//  2. under the store's read lock: read the history of revisions
//     [lo, hi], lo the smallest candidate's next, at most
//     Config.WatchBatchMaxRevs revisions (one chunk for all candidates);
//  3. under the registry lock: cancel candidates behind the compaction
//     revision (CompactRevision response), give every candidate whose next
//     is in [lo, hi] its events of [next, hi] in one response (or hold it
//     if Send refuses), and sync those that are then current.
//
// It reports whether any watcher advanced.
func (s *Store) syncPass() (progress bool) {
	ws := &s.watch
	type cand struct {
		w    *Watcher
		next int64
	}
	var cands []cand
	ws.mu.Lock()
	if ws.closed {
		ws.mu.Unlock()
		return false
	}
	for w := range ws.unsynced {
		if w.held != nil {
			if !w.sink.Send(*w.held) {
				continue
			}
			w.held = nil
			progress = true
		}
		if w.next > ws.notifiedRev {
			ws.syncLocked(w)
			progress = true
			continue
		}
		cands = append(cands, cand{w: w, next: w.next})
	}
	ws.mu.Unlock()
	if len(cands) == 0 {
		return progress
	}

	s.mu.RLock()
	if s.readableLocked() != nil {
		s.mu.RUnlock()
		return false
	}
	cur, crev, gen := s.currentRev, s.compactRev, s.restoreGen
	lo, withPrev := int64(-1), false
	for _, c := range cands {
		if c.next >= crev && (lo < 0 || c.next < lo) {
			lo = c.next
		}
	}
	var hi int64
	var evs []*Event
	if lo >= 0 {
		hi = min(cur, lo+int64(s.cfg.WatchBatchMaxRevs)-1)
		for _, c := range cands {
			withPrev = withPrev || (c.w.prevKV && c.next <= hi)
		}
		var err error
		evs, err = s.readHistoryLocked(lo, hi, withPrev)
		if err != nil {
			s.mu.RUnlock()
			s.lg.Warn("mvcc: watch catch-up: reading history", "from", lo, "to", hi, "err", err)
			return false
		}
	}
	s.mu.RUnlock()

	var bare []*Event // evs without PrevKv, made on demand
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed || ws.gen != gen {
		return progress
	}
	for _, c := range cands {
		w := c.w
		if w.state != stateUnsynced || w.next != c.next || w.held != nil {
			continue // canceled or changed meanwhile
		}
		if c.next < crev {
			if w.sink.Send(WatchResponse{Revision: cur, CompactRevision: crev}) {
				ws.endLocked(w)
				progress = true
			}
			continue
		}
		if c.next < lo || c.next > hi {
			continue
		}
		src := evs
		if withPrev && !w.prevKV {
			if bare == nil {
				bare = make([]*Event, len(evs))
				for i, ev := range evs {
					bare[i] = &Event{Type: ev.Type, Kv: ev.Kv}
				}
			}
			src = bare
		}
		first := sort.Search(len(src), func(i int) bool { return src[i].Kv.ModRevision >= c.next })
		var mine []*Event
		for _, ev := range src[first:] {
			if w.matches(ev.Kv.Key) {
				mine = append(mine, ev)
			}
		}
		w.next = hi + 1
		progress = true
		if len(mine) > 0 {
			resp := WatchResponse{Events: mine, Revision: cur}
			if !w.sink.Send(resp) {
				w.held, w.heldFrom = &resp, c.next
				continue
			}
		}
		if w.next > ws.notifiedRev {
			ws.syncLocked(w)
		}
	}
	return progress
}
