package keel

import (
	"context"
	"errors"
	"fmt"

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
// watcher), when the Store closes, or after a canceling response. With a
// ctx from WithRequireLeader, a watch on a member without a leader is
// canceled with ErrNoLeader (see WithRequireLeader). Watch is not
// linearizable: a watcher sees revisions as this member applies them.
func (s *Store) Watch(ctx context.Context, key string, opts ...OpOption) WatchChan {
	return s.watch(ctx, key, opts, nil)
}

// watch is Watch; onClose, if not nil, runs once the channel is closed.
func (s *Store) watch(ctx context.Context, key string, opts []OpOption, onClose func()) WatchChan {
	op := Op{t: tRange, key: []byte(key)}
	op.apply(opts)
	// One slot more than the watcher may fill (watchSink.Send), for the
	// last, canceling response.
	ch := make(chan WatchResponse, s.cfg.WatchBufferSize+1)
	end := func(wr *WatchResponse) WatchChan {
		if wr != nil {
			ch <- *wr
		}
		close(ch)
		if onClose != nil {
			onClose()
		}
		return ch
	}
	refuse := func(err error) WatchChan { // a request etcd's server refuses
		return end(&WatchResponse{Header: s.headerPtr(), Canceled: true, CancelReason: err.Error(), closeErr: err})
	}
	abort := func(err error) WatchChan { // the member cannot serve it
		return end(&WatchResponse{Header: s.headerPtr(), Canceled: true, closeErr: err})
	}
	switch {
	case s.stopped():
		return end(nil)
	case op.err != nil:
		return refuse(op.err)
	case s.corruptErr() != nil:
		return abort(s.corruptErr())
	case op.set&(optLimit|optSort|optSerializable|optKeysOnly|optCountOnly|optRevFilter|optLease|optIgnore) != 0:
		return refuse(fmt.Errorf("%w: option does not apply to watch", ErrInvalidOption))
	case op.isPrefix && op.isFromKey:
		return refuse(fmt.Errorf("%w: WithPrefix and WithFromKey cannot be combined", ErrInvalidOption))
	case op.rev < 0:
		return refuse(fmt.Errorf("%w: negative start revision %d", ErrInvalidOption, op.rev))
	}
	if err := s.checkLeader(ctx); err != nil {
		return abort(err)
	}
	if len(op.key) == 0 {
		op.key = []byte{0} // etcd: an empty key means "\x00"
	}
	if op.createdNotify {
		ch <- WatchResponse{Header: s.headerPtr(), Created: true}
	}
	sink := &watchSink{s: s, ch: ch, filterPut: op.filterPut, filterDelete: op.filterDelete, onClose: onClose}
	w, err := s.kv.Watch(op.key, op.end, mvcc.WatchOptions{
		StartRev: op.rev, PrevKV: op.prevKV, ProgressNotify: op.progressNotify,
	}, sink)
	if err != nil { // after the created response, if any
		err = mapWatchErr(err)
		if errors.Is(err, ErrStopped) {
			return abort(err)
		}
		return refuse(err)
	}
	stops := []func() bool{context.AfterFunc(ctx, w.Cancel)}
	if requiresLeader(ctx) {
		remove := s.noLeader.add(func() { sink.cancel(w, ErrNoLeader) })
		stops = append(stops, func() bool { remove(); return true })
	}
	sink.setStop(stops)
	return ch
}

// RequestProgress makes every caught-up watcher of this member send a
// progress response carrying the current revision.
func (s *Store) RequestProgress(ctx context.Context) error {
	if s.stopped() {
		return s.errStopped()
	}
	s.kv.RequestProgress()
	return nil
}
