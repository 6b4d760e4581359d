package chaos

import (
	"context"
	"sync"

	"github.com/keeldb/keel"
)

// KV is a recorded key-value version (a JSON-friendly copy of
// keel.KeyValue without the lease).
type KV struct {
	Key       string `json:"key"`
	Value     string `json:"value,omitempty"`
	CreateRev int64  `json:"create_rev,omitempty"`
	ModRev    int64  `json:"mod_rev"`
	Version   int64  `json:"version,omitempty"`
}

// Event is a recorded watch event. For a delete, KV holds the key and the
// deletion revision (ModRev) only.
type Event struct {
	Type   keel.EventType `json:"type"`
	KV     KV             `json:"kv"`
	PrevKV *KV            `json:"prev_kv,omitempty"`
}

// IsCreate reports whether e is a put that created its key.
func (e Event) IsCreate() bool {
	return e.Type == keel.EventTypePut && e.KV.CreateRev == e.KV.ModRev
}

// sameChange reports whether a and b describe the same change, ignoring
// PrevKV (validated separately).
func sameChange(a, b Event) bool { return a.Type == b.Type && a.KV == b.KV }

func kvFrom(kv *keel.KeyValue) *KV {
	if kv == nil {
		return nil
	}
	return &KV{Key: string(kv.Key), Value: string(kv.Value), CreateRev: kv.CreateRevision, ModRev: kv.ModRevision, Version: kv.Version}
}

// EventFrom converts a keel event into a recorded Event.
func EventFrom(e *keel.Event) Event {
	out := Event{Type: e.Type, PrevKV: kvFrom(e.PrevKv)}
	if kv := kvFrom(e.Kv); kv != nil {
		out.KV = *kv
	}
	return out
}

// WatchRequest describes a watch. With neither Prefix, FromKey nor End it
// watches the single key Key.
type WatchRequest struct {
	Key     string `json:"key"`
	End     string `json:"end,omitempty"`
	Prefix  bool   `json:"prefix,omitempty"`
	FromKey bool   `json:"from_key,omitempty"`
	// StartRev is WithRev's revision; 0 means "from now".
	StartRev int64 `json:"start_rev,omitempty"`
	PrevKV   bool  `json:"prev_kv,omitempty"`
	// ProgressNotify asks for periodic progress notifications.
	ProgressNotify bool `json:"progress_notify,omitempty"`
}

// Options returns the keel options for the request.
func (q WatchRequest) Options() []keel.OpOption {
	var opts []keel.OpOption
	switch {
	case q.Prefix:
		opts = append(opts, keel.WithPrefix())
	case q.FromKey:
		opts = append(opts, keel.WithFromKey())
	case q.End != "":
		opts = append(opts, keel.WithRange(q.End))
	}
	if q.StartRev > 0 {
		opts = append(opts, keel.WithRev(q.StartRev))
	}
	if q.PrevKV {
		opts = append(opts, keel.WithPrevKV())
	}
	if q.ProgressNotify {
		opts = append(opts, keel.WithProgressNotify())
	}
	return opts
}

// Matches reports whether key is in the watched range.
func (q WatchRequest) Matches(key string) bool {
	switch {
	case q.Prefix:
		return len(key) >= len(q.Key) && key[:len(q.Key)] == q.Key
	case q.FromKey:
		return key >= q.Key
	case q.End != "":
		return key >= q.Key && key < q.End
	}
	return key == q.Key
}

// WatchResponse is one recorded watch response.
type WatchResponse struct {
	// Time is the Recorder time at which the response was received.
	Time      int64   `json:"time"`
	HeaderRev int64   `json:"header_rev"`
	Events    []Event `json:"events,omitempty"`
	// Progress marks a progress notification (no events; every event up to
	// HeaderRev was delivered).
	Progress   bool   `json:"progress,omitempty"`
	Created    bool   `json:"created,omitempty"`
	Canceled   bool   `json:"canceled,omitempty"`
	CompactRev int64  `json:"compact_rev,omitempty"`
	Err        string `json:"err,omitempty"`
}

// WatchStream is a recorded watch: the request and every response.
type WatchStream struct {
	Member  string       `json:"member,omitempty"`
	Request WatchRequest `json:"request"`
	// CompactRevAtStart is the compaction revision the harness knew of
	// before opening the watch (0 if none): a StartRev below it must be
	// answered with an explicit CompactRev cancel.
	CompactRevAtStart int64           `json:"compact_rev_at_start,omitempty"`
	Responses         []WatchResponse `json:"responses"`
}

// ResponseFrom converts a keel watch response, received at time at.
func ResponseFrom(r keel.WatchResponse, at int64) WatchResponse {
	out := WatchResponse{
		Time: at, HeaderRev: r.Header.Revision, Progress: r.IsProgressNotify(),
		Created: r.Created, Canceled: r.Canceled, CompactRev: r.CompactRevision,
	}
	if err := r.Err(); err != nil {
		out.Err = err.Error()
	}
	for _, e := range r.Events {
		out.Events = append(out.Events, EventFrom(e))
	}
	return out
}

// WatchRecorder opens a watch and records its responses until the channel
// closes. It is safe for concurrent use: Stream may be called while the
// watch runs.
type WatchRecorder struct {
	rec  *Recorder
	done chan struct{}

	mu     sync.Mutex
	stream WatchStream
}

// RecordWatch opens the watch described by req on w and records it in the
// background until ctx ends or the watch is canceled. rec provides the time
// base (it may be nil: times are then 0).
func RecordWatch(ctx context.Context, w keel.Watcher, rec *Recorder, member string, req WatchRequest, compactRevAtStart int64) *WatchRecorder {
	wr := &WatchRecorder{rec: rec, done: make(chan struct{}),
		stream: WatchStream{Member: member, Request: req, CompactRevAtStart: compactRevAtStart}}
	ch := w.Watch(ctx, req.Key, req.Options()...)
	go func() {
		defer close(wr.done)
		for r := range ch {
			var at int64
			if rec != nil {
				at = rec.Now()
			}
			resp := ResponseFrom(r, at)
			wr.mu.Lock()
			wr.stream.Responses = append(wr.stream.Responses, resp)
			wr.mu.Unlock()
		}
	}()
	return wr
}

// Done is closed when the watch channel has closed.
func (wr *WatchRecorder) Done() <-chan struct{} { return wr.done }

// Stream returns a copy of what was recorded so far. Call it after Done
// for the complete stream.
func (wr *WatchRecorder) Stream() WatchStream {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	s := wr.stream
	s.Responses = append([]WatchResponse(nil), s.Responses...)
	return s
}

// LastRevision returns the highest revision the stream has seen: the
// last event's revision, or the header revision of a progress
// notification, whichever is higher.
func (s WatchStream) LastRevision() int64 {
	var last int64
	for _, r := range s.Responses {
		if r.Progress {
			last = max(last, r.HeaderRev)
		}
		for _, e := range r.Events {
			last = max(last, e.KV.ModRev)
		}
	}
	return last
}
