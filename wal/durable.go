package wal

import (
	"context"
	"fmt"
	"runtime"
)

// Durable returns the index of the last entry known to be on stable
// storage: every entry at or below it survives a crash of the process or
// the OS. Without Config.DeferSync it equals LastIndex once StoreLogs
// returned; with it, it trails LastIndex by the batches the background sync
// has not covered yet. It is 0 for an empty log.
func (w *WAL) Durable() uint64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.durable
}

// WaitDurable blocks until Durable() >= index, the WAL fail-stops (the
// error wraps ErrFailed), the WAL is closed (ErrClosed) or ctx ends. An
// index that is never written waits for ctx.
func (w *WAL) WaitDurable(ctx context.Context, index uint64) error {
	for {
		w.mu.RLock()
		durable, ch, failed, closed := w.durable, w.durCh, w.failed, w.closed
		w.mu.RUnlock()
		switch {
		case durable >= index:
			return nil
		case failed != nil:
			return failed
		case closed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wal: waiting for index %d to be durable: %w", index, ctx.Err())
		}
	}
}

// setDurableLocked raises the durable index and wakes waiters. Caller holds
// mu for writing.
func (w *WAL) setDurableLocked(idx uint64) {
	if idx > w.last {
		idx = w.last
	}
	if idx > w.durable {
		w.durable = idx
		w.notifyDurableLocked()
	}
}

// notifyDurableLocked wakes every WaitDurable. Caller holds mu for writing.
func (w *WAL) notifyDurableLocked() {
	close(w.durCh)
	w.durCh = make(chan struct{})
}

// syncRecovered runs during Open, after the scan: what recovery found in
// the last segment may sit only in the page cache (a process that crashed
// wrote it without syncing), so it is synced before the meta seals that
// segment at its last batch (a torn or format 1 tail) and before Open
// reports it durable. Only the last segment can hold unsynced bytes:
// rotation and truncation sync the tail before sealing it.
func (w *WAL) syncRecovered() error {
	n := len(w.segs)
	if n == 0 || w.cfg.NoSync {
		return nil
	}
	s := w.segs[n-1]
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("wal: sync %s after recovery: %w", s.name, err)
	}
	s.durableOff.Store(max(s.durableOff.Load(), s.writeOff))
	return nil
}

// flush makes every written entry durable before a structural change (a
// truncation, a segment rotation, Close). Caller holds wmu, so nothing new
// is written meanwhile.
func (w *WAL) flush() error {
	if !w.cfg.DeferSync {
		return nil
	}
	return w.syncPending()
}

// syncPending syncs the tail segment until Durable() covers every written
// entry. Only the tail can hold unsynced batches: rotation and truncation
// flush first. Syncs are serialised by syncMu, so a segment file is never
// closed under a sync in progress (closing happens under wmu after a flush,
// when nothing is pending and no sync starts).
func (w *WAL) syncPending() error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	for {
		w.mu.RLock()
		target, durable, err := w.last, w.durable, w.usableLocked()
		var s *segment
		var end int64 // the tail's written bytes, all covered by the sync
		if n := len(w.segs); n > 0 {
			s = w.segs[n-1]
			end = s.writeOff
		}
		w.mu.RUnlock()
		if err != nil {
			return err
		}
		if target <= durable || s == nil {
			return nil
		}
		if !w.cfg.NoSync {
			if err := w.syncEntries(s); err != nil {
				return w.fail("sync "+s.name, err)
			}
		}
		w.mu.Lock()
		if !w.cfg.NoSync && end > s.durableOff.Load() {
			s.durableOff.Store(end)
		}
		w.setDurableLocked(target)
		w.mu.Unlock()
	}
}

// startSyncer starts the background sync of Config.DeferSync.
func (w *WAL) startSyncer() {
	w.kick = make(chan struct{}, 1)
	w.stopSync = make(chan struct{})
	w.syncDone = make(chan struct{})
	go w.runSyncer()
}

// kickSyncer wakes the syncer after a write; it never blocks.
func (w *WAL) kickSyncer() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// runSyncer syncs whenever batches were written, until stopSync closes. A
// batch written while a sync runs is covered by the next one: every sync
// covers all batches written before it started (group commit).
func (w *WAL) runSyncer() {
	defer close(w.syncDone)
	for {
		select {
		case <-w.kick:
		case <-w.stopSync:
			return
		}
		// Let the goroutines the writer readied run first (on a leader,
		// the replication that is about to send this batch): fdatasync
		// blocks this thread's P until the runtime hands it off.
		runtime.Gosched()
		// An error means fail-stopped (fail logged it and woke the
		// waiters) or closed; later kicks find the same error at once.
		_ = w.syncPending()
	}
}

// stopSyncer stops the syncer goroutine, if any, and waits for it. It is
// idempotent.
func (w *WAL) stopSyncer() {
	if w.stopSync == nil {
		return
	}
	w.wmu.Lock()
	select {
	case <-w.stopSync:
	default:
		close(w.stopSync)
	}
	w.wmu.Unlock()
	<-w.syncDone
}
