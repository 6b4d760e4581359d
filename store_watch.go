package keel

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/keeldb/keel/mvcc"
)

var _ Watcher = (*Store)(nil)

// Watch watches key, or a range with WithRange, WithPrefix or WithFromKey
// (an empty key with WithPrefix watches everything), on this member's
// applied state. Options:
//
//   - WithRev(r) starts at revision r: 0 (default) means from the next
//     revision; a past revision first replays history from r; a future one
//     waits for it; one below the compacted revision gets a single response
//     with CompactRevision set and the channel closes.
//   - WithPrevKV adds each key's previous version to its events.
//   - WithFilterPut / WithFilterDelete drop those events; a response left
//     empty is not sent.
//   - WithProgressNotify sends a progress response periodically
//     (Config.WatchProgressNotifyInterval) while the watcher is caught up.
//   - WithCreatedNotify sends a first response with Created set.
//
// Guarantees: events arrive ordered by revision, each exactly once, the
// events of one revision in one response, with no gaps in history, on
// followers and leaders alike, across leader changes and snapshot installs.
// A watcher whose consumer stops reading never blocks writes or other
// watchers: its channel buffer (Config.WatchBufferSize responses) fills up
// and it later catches up from history, so its memory stays bounded.
//
// The channel is closed when ctx is done (cancel it to release the
// watcher), when the Store closes, or after a canceling response. Watch is
// not linearizable: a watcher sees revisions as this member applies them.
func (s *Store) Watch(ctx context.Context, key string, opts ...OpOption) WatchChan {
	op := Op{t: tRange, key: []byte(key)}
	op.apply(opts)
	ch := make(chan WatchResponse, s.cfg.WatchBufferSize)
	cancel := func(err error) WatchChan {
		ch <- WatchResponse{Header: s.header(s.kv.Rev()), Canceled: true, closeErr: err}
		close(ch)
		return ch
	}
	switch {
	case s.stopped():
		close(ch)
		return ch
	case op.err != nil:
		return cancel(op.err)
	case op.set&(optLimit|optSort|optSerializable|optKeysOnly|optCountOnly|optRevFilter|optLease|optIgnore) != 0:
		return cancel(fmt.Errorf("%w: option does not apply to watch", ErrInvalidOption))
	case op.isPrefix && op.isFromKey:
		return cancel(fmt.Errorf("%w: WithPrefix and WithFromKey cannot be combined", ErrInvalidOption))
	case op.rev < 0:
		return cancel(fmt.Errorf("%w: negative start revision %d", ErrInvalidOption, op.rev))
	}
	if len(op.key) == 0 {
		op.key = []byte{0} // etcd: an empty key means "\x00"
	}
	if op.createdNotify {
		ch <- WatchResponse{Header: s.header(s.kv.Rev()), Created: true}
	}
	sink := &watchSink{s: s, ch: ch, filterPut: op.filterPut, filterDelete: op.filterDelete}
	w, err := s.kv.Watch(op.key, op.end, mvcc.WatchOptions{
		StartRev: op.rev, PrevKV: op.prevKV, ProgressNotify: op.progressNotify,
	}, sink)
	if err != nil {
		return cancel(mapWatchErr(err)) // after the created response, if any
	}
	sink.setStop(context.AfterFunc(ctx, w.Cancel))
	return ch
}

func mapWatchErr(err error) error {
	switch {
	case errors.Is(err, mvcc.ErrInvalidWatch):
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	case errors.Is(err, mvcc.ErrClosed):
		return ErrStopped
	}
	return err
}

// RequestProgress makes every caught-up watcher of this member send a
// progress response carrying the current revision.
func (s *Store) RequestProgress(ctx context.Context) error {
	if s.stopped() {
		return ErrStopped
	}
	s.kv.RequestProgress()
	return nil
}

// header returns a response header for this member at revision rev.
func (s *Store) header(rev int64) ResponseHeader {
	return ResponseHeader{ClusterID: s.id.ClusterID, MemberID: s.memberID, Revision: rev, RaftTerm: s.raft.CurrentTerm()}
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
