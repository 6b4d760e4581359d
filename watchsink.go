package keel

import (
	"errors"
	"fmt"
	"sync"

	"github.com/keeldb/keel/mvcc"
)

func mapWatchErr(err error) error {
	switch {
	case errors.Is(err, mvcc.ErrInvalidWatch):
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	case errors.Is(err, mvcc.ErrClosed):
		return ErrStopped
	}
	return err
}

// watchSink turns mvcc's watch responses into WatchResponses on the
// watcher's channel. mvcc never calls Send and Close concurrently and never
// after Close; Send never blocks. The channel has one slot more than Send
// fills, so Close can always add a last, canceling response.
type watchSink struct {
	s                       *Store
	ch                      chan WatchResponse
	filterPut, filterDelete bool
	onClose                 func() // runs after the channel is closed, if set

	mu        sync.Mutex
	closed    bool
	stop      []func() bool // unregister the ctx callback and the leader monitor
	cancelErr error         // why cancel ended the watcher, for Close to report
	// lastRev is the revision of the last response Send took (0 if none):
	// every event up to it was delivered; compacted is set once Send took
	// a canceling (compaction) response. mvcc serializes Send and Close,
	// which read and write them.
	lastRev   int64
	compacted bool
}

// setStop records how to unregister the watcher's callbacks; if the
// watcher already ended, it unregisters at once.
func (k *watchSink) setStop(stop []func() bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		for _, f := range stop {
			f()
		}
		return
	}
	k.stop = stop
}

// cancel ends watcher w with a last response carrying err.
func (k *watchSink) cancel(w *mvcc.Watcher, err error) {
	k.mu.Lock()
	if k.cancelErr == nil {
		k.cancelErr = err
	}
	k.mu.Unlock()
	w.Cancel()
}

func (k *watchSink) Send(r mvcc.WatchResponse) bool {
	events := r.Events
	if (k.filterPut || k.filterDelete) && len(events) > 0 {
		kept := make([]*Event, 0, len(events))
		for _, e := range events {
			if (e.Type == EventTypePut && k.filterPut) || (e.Type == EventTypeDelete && k.filterDelete) {
				continue
			}
			kept = append(kept, e)
		}
		if len(kept) == 0 {
			k.lastRev = max(k.lastRev, r.Revision)
			return true // nothing left to say; etcd sends nothing either
		}
		events = kept
	}
	if r.Revision == 0 && len(events) == 0 && r.CompactRevision == 0 {
		return true
	}
	if len(k.ch) >= cap(k.ch)-1 { // the last slot is Close's
		return false
	}
	wr := WatchResponse{Header: k.s.watchHeader(r.Revision), Events: events, CompactRevision: r.CompactRevision}
	if r.CompactRevision != 0 {
		wr.Canceled = true
		k.compacted = true
	}
	k.ch <- wr // only mvcc sends, one call at a time, and there is room
	k.lastRev = r.Revision
	return true
}

func (k *watchSink) Close() {
	k.mu.Lock()
	k.closed = true
	stop, err := k.stop, k.cancelErr
	k.mu.Unlock()
	for _, f := range stop {
		f()
	}
	if err != nil && !k.compacted { // a canceled response is the last one
		// The revision delivered so far, not the store's (Close runs under
		// mvcc's watch lock, which must not wait for the store's): resuming
		// from it +1 misses nothing.
		k.ch <- WatchResponse{Header: k.s.headerAt(k.lastRev), Canceled: true, closeErr: err}
	}
	close(k.ch)
	if k.onClose != nil {
		k.onClose()
	}
}
