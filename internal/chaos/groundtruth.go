package chaos

import (
	"context"
	"fmt"

	"github.com/keeldb/keel"
)

// History is a ground-truth event history: every event of the store from
// revision 1, in revision order, with the state of each event's key just
// before it. Build it with NewHistory. A History is immutable and safe for
// concurrent use.
type History struct {
	events []Event
	prev   []*KV // key state before events[i]; nil = absent
	last   int64
}

// NewHistory validates events as a complete history from revision 1 and
// indexes it. events must be ordered by revision, each revision's keys
// unique, and every event consistent with replaying the ones before it
// (create revision, version, a delete only of an existing key); otherwise
// it returns an error wrapping ErrBadGroundTruth. PrevKV fields of events
// are ignored (recomputed by replay).
func NewHistory(events []Event) (*History, error) {
	h := &History{events: make([]Event, len(events)), prev: make([]*KV, len(events))}
	state := map[string]KV{}
	revKeys := map[string]bool{}
	for i, e := range events {
		e.PrevKV = nil
		r := e.KV.ModRev
		switch {
		case r <= 0:
			return nil, fmt.Errorf("%w: event %d has revision %d", ErrBadGroundTruth, i, r)
		case r < h.last:
			return nil, fmt.Errorf("%w: event %d revision %d after %d", ErrBadGroundTruth, i, r, h.last)
		case r > h.last:
			clear(revKeys)
		}
		if revKeys[e.KV.Key] {
			return nil, fmt.Errorf("%w: key %q twice at revision %d", ErrBadGroundTruth, e.KV.Key, r)
		}
		revKeys[e.KV.Key] = true
		h.last = r
		p, ok := state[e.KV.Key]
		if ok {
			pc := p
			h.prev[i] = &pc
		}
		switch e.Type {
		case keel.EventTypePut:
			wantCreate, wantVersion := r, int64(1)
			if ok {
				wantCreate, wantVersion = p.CreateRev, p.Version+1
			}
			if e.KV.CreateRev != wantCreate || e.KV.Version != wantVersion {
				return nil, fmt.Errorf("%w: put %q at %d has create %d version %d, replay says %d/%d",
					ErrBadGroundTruth, e.KV.Key, r, e.KV.CreateRev, e.KV.Version, wantCreate, wantVersion)
			}
			state[e.KV.Key] = e.KV
		case keel.EventTypeDelete:
			if !ok {
				return nil, fmt.Errorf("%w: delete of absent key %q at %d", ErrBadGroundTruth, e.KV.Key, r)
			}
			delete(state, e.KV.Key)
		default:
			return nil, fmt.Errorf("%w: event %d has type %d", ErrBadGroundTruth, i, e.Type)
		}
		h.events[i] = e
	}
	return h, nil
}

// LastRevision returns the revision of the last event (0 if none).
func (h *History) LastRevision() int64 { return h.last }

// Events returns a copy of the events, each with PrevKV set from replay.
func (h *History) Events() []Event {
	out := make([]Event, len(h.events))
	for i, e := range h.events {
		e.PrevKV = h.prev[i]
		out[i] = e
	}
	return out
}

// State returns the live keys and values after revision rev.
func (h *History) State(rev int64) map[string]string {
	st := map[string]string{}
	for _, e := range h.events {
		if e.KV.ModRev > rev {
			break
		}
		if e.Type == keel.EventTypePut {
			st[e.KV.Key] = e.KV.Value
		} else {
			delete(st, e.KV.Key)
		}
	}
	return st
}

// matching returns the indexes of events matching q with revision in
// [from, to].
func (h *History) matching(q WatchRequest, from, to int64) []int {
	var idx []int
	for i, e := range h.events {
		if e.KV.ModRev < from {
			continue
		}
		if e.KV.ModRev > to {
			break
		}
		if q.Matches(e.KV.Key) {
			idx = append(idx, i)
		}
	}
	return idx
}

// find returns the index of the event of key at rev, or -1.
func (h *History) find(rev int64, key string) int {
	lo, hi := 0, len(h.events)
	for lo < hi { // first event with revision >= rev
		m := (lo + hi) / 2
		if h.events[m].KV.ModRev < rev {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for i := lo; i < len(h.events) && h.events[i].KV.ModRev == rev; i++ {
		if h.events[i].KV.Key == key {
			return i
		}
	}
	return -1
}

// GroundTruth reads the full event history of w from revision 1 through
// untilRev (typically the header revision of a linearizable Get on a
// converged member, taken after the run), by watching everything with
// prevKV. It fails if the history was compacted or ctx ends first.
func GroundTruth(ctx context.Context, w keel.Watcher, untilRev int64) ([]Event, error) {
	if untilRev <= 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []Event
	ch := w.Watch(ctx, "", keel.WithPrefix(), keel.WithRev(1), keel.WithPrevKV(), keel.WithProgressNotify())
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				return out, fmt.Errorf("%w: watch closed at %d events before revision %d", ErrBadGroundTruth, len(out), untilRev)
			}
			if r.Canceled {
				return out, fmt.Errorf("%w: watch canceled: %v", ErrBadGroundTruth, r.Err())
			}
			for _, e := range r.Events {
				if e.Kv != nil && e.Kv.ModRevision > untilRev {
					return out, nil
				}
				out = append(out, EventFrom(e))
			}
			if (len(out) > 0 && out[len(out)-1].KV.ModRev >= untilRev) || (r.IsProgressNotify() && r.Header.Revision >= untilRev) {
				return out, nil
			}
		case <-ctx.Done():
			return out, fmt.Errorf("%w: %w", ErrBadGroundTruth, ctx.Err())
		}
	}
}
