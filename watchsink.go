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
// after Close; Send never blocks.
type watchSink struct {
	s                       *Store
	ch                      chan WatchResponse
	filterPut, filterDelete bool

	mu     sync.Mutex
	closed bool
	stop   func() bool // unregisters the ctx callback
}

// setStop records how to unregister the watcher's ctx callback; if the
// watcher already ended, it unregisters at once.
func (k *watchSink) setStop(stop func() bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		stop()
		return
	}
	k.stop = stop
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
			return true // nothing left to say; etcd sends nothing either
		}
		events = kept
	}
	if r.Revision == 0 && len(events) == 0 && r.CompactRevision == 0 {
		return true
	}
	wr := WatchResponse{Header: k.s.header(r.Revision), Events: events, CompactRevision: r.CompactRevision}
	if r.CompactRevision != 0 {
		wr.Canceled = true
	}
	select {
	case k.ch <- wr:
		return true
	default:
		return false
	}
}

func (k *watchSink) Close() {
	k.mu.Lock()
	k.closed = true
	stop := k.stop
	k.mu.Unlock()
	if stop != nil {
		stop()
	}
	close(k.ch)
}
