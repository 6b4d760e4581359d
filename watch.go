package keel

import (
	"context"
	"errors"

	"github.com/keeldb/keel/mvcc"
)

// Watcher is the watch API of a Keel member, as in etcd's clientv3.Watcher.
// *Store implements it, and NewWatcher returns a handle whose Close ends
// only the watches made through it.
type Watcher interface {
	// Watch watches key, or a range with WithRange, WithPrefix or
	// WithFromKey, and returns a channel of responses. See Store.Watch.
	Watch(ctx context.Context, key string, opts ...OpOption) WatchChan
	// RequestProgress makes every watcher of this member that has delivered
	// all events up to the current revision send a progress response (no
	// events, header revision = current revision).
	RequestProgress(ctx context.Context) error
	// Close ends the watches: for a handle from NewWatcher, those made
	// through it (their channels are closed when Close returns); for a
	// *Store, every watch, as the Store itself closes (as clientv3's
	// Client.Close does).
	Close() error
}

// WatchChan delivers the responses of one watch. It is closed when the
// watch ends: its ctx was canceled, the Store was closed, or the watch was
// canceled (compaction, invalid request); the last response then says why.
type WatchChan <-chan WatchResponse

// Event is one change to a key: a put or a delete. For a delete, Kv holds
// only the key and the deletion revision (ModRevision). PrevKv is the
// previous version when WithPrevKV was given. Events delivered by a watch
// are shared by every watcher that receives them: treat them as read-only.
type Event = mvcc.Event

// EventType is the kind of an Event.
type EventType = mvcc.EventType

// Event types.
const (
	EventTypePut    = mvcc.EventTypePut
	EventTypeDelete = mvcc.EventTypeDelete
)

// WatchResponse is one batch of a watch: the events of one or more whole
// revisions, in revision order, or a notification.
type WatchResponse struct {
	// Header.Revision is the member's revision when the response was
	// produced; it is at least the revision of every event in it. A
	// watcher can resume from Header.Revision+1 after an empty response
	// and from the last event's ModRevision+1 otherwise. Header is never
	// nil in a response Keel sends. Like the events, it may be shared with
	// other watchers' responses: treat it as read-only.
	Header *ResponseHeader
	// Events are the changes, ordered by revision; all events of one
	// revision are in the same response.
	Events []*Event
	// CompactRevision is set when the watch was canceled because the
	// revision it needed next was compacted: re-read the keys and watch
	// again from Header.Revision+1.
	CompactRevision int64
	// Canceled reports the watch's last response; Err says why.
	Canceled bool
	// Created reports the response sent first by WithCreatedNotify.
	Created bool
	// CancelReason is the text of the error that made Keel refuse the
	// watch request (an invalid range or option), as etcd's server sets
	// it. It is empty for other cancellations (compaction, no leader, the
	// member stopping), as in clientv3.
	CancelReason string

	closeErr error
}

// Err returns why the watch was canceled, or nil: ErrCompacted for a
// compaction, the request error for an invalid watch, ErrNoLeader for a
// watch made WithRequireLeader whose member lost its leader, ErrStopped
// when the member closed. As in clientv3, a canceled response with no
// other cause (one Keel never sends) reports an error with CancelReason's
// text, or ErrFutureRev if that is empty.
func (wr *WatchResponse) Err() error {
	switch {
	case wr.closeErr != nil:
		return wr.closeErr
	case wr.CompactRevision != 0:
		return ErrCompacted
	case wr.Canceled && wr.CancelReason != "":
		return errors.New(wr.CancelReason)
	case wr.Canceled:
		return ErrFutureRev
	}
	return nil
}

// IsProgressNotify reports a progress notification: a response with no
// events whose header revision says every event up to it was delivered.
func (wr *WatchResponse) IsProgressNotify() bool {
	return len(wr.Events) == 0 && !wr.Canceled && !wr.Created && wr.CompactRevision == 0 && wr.Header.GetRevision() != 0
}
