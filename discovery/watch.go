package discovery

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/keeldb/keel"
)

// ChangeType says how an instance changed.
type ChangeType int

// Change types.
const (
	// Added: the instance was registered.
	Added ChangeType = iota + 1
	// Updated: the instance's record was replaced.
	Updated
	// Removed: the instance was deregistered or its lease expired.
	Removed
)

// String returns the name of the change type.
func (t ChangeType) String() string {
	switch t {
	case Added:
		return "added"
	case Updated:
		return "updated"
	case Removed:
		return "removed"
	}
	return "unknown"
}

// Change is one instance's change. For Removed, Instance holds the last
// record seen.
type Change struct {
	Type     ChangeType
	Instance Instance
}

// Update is one step of a Watch: the full set of instances after it, and
// what changed since the previous Update.
type Update struct {
	// Revision is the store revision the set reflects.
	Revision int64
	// Full reports a listing rather than incremental changes: the first
	// Update, and any Update after the watch had to re-list (its history
	// was compacted). Changes is empty then.
	Full bool
	// Instances is the complete current set, ordered by ID.
	Instances []Instance
	// Changes are the changes since the previous Update, in revision order.
	Changes []Change
}

// Watch delivers the instances of service: first the full current set
// (read at some revision R), then an Update for every change from R+1 on,
// with no gaps. If the history it needs was compacted, it re-lists and
// sends a Full update again. Reads that fail (no leader yet, ...) are
// retried until ctx ends. The channel is closed when ctx ends or the
// store closes. An invalid service name yields a closed channel; check it
// with Lookup first if it is not a constant.
func (r *Registry) Watch(ctx context.Context, service string) <-chan Update {
	ch := make(chan Update)
	if validService(service) != nil {
		close(ch)
		return ch
	}
	go r.watch(ctx, service, ch)
	return ch
}

func (r *Registry) watch(ctx context.Context, service string, ch chan<- Update) {
	defer close(ch)
	pfx := servicePrefix(r.prefix, service)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		resp, err := r.client.Get(ctx, pfx, keel.WithPrefix())
		if err != nil {
			if errors.Is(err, keel.ErrStopped) || !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		set := map[string]Instance{}
		for _, kv := range resp.Kvs {
			if in, ok := r.decode(service, kv); ok {
				set[string(kv.Key)] = in
			}
		}
		if !send(ctx, ch, Update{Revision: resp.Header.Revision, Full: true, Instances: sorted(set)}) {
			return
		}
		if !r.follow(ctx, service, pfx, resp.Header.Revision+1, set, ch) {
			return
		}
	}
}

// follow applies watch events from rev to set and sends an Update per
// watch response. It returns true to re-list (compaction), false to stop.
func (r *Registry) follow(ctx context.Context, service, pfx string, rev int64, set map[string]Instance, ch chan<- Update) bool {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range r.client.Watch(wctx, pfx, keel.WithPrefix(), keel.WithRev(rev)) {
		if wr.CompactRevision != 0 {
			return true
		}
		if wr.Canceled {
			return false
		}
		if len(wr.Events) == 0 {
			continue
		}
		var changes []Change
		for _, ev := range wr.Events {
			key := string(ev.Kv.Key)
			old, had := set[key]
			switch ev.Type {
			case keel.EventTypeDelete:
				if had {
					delete(set, key)
					changes = append(changes, Change{Type: Removed, Instance: old})
				}
			case keel.EventTypePut:
				in, ok := r.decode(service, ev.Kv)
				switch {
				case !ok && had: // replaced by garbage: no longer usable
					delete(set, key)
					changes = append(changes, Change{Type: Removed, Instance: old})
				case !ok:
				case had:
					set[key] = in
					changes = append(changes, Change{Type: Updated, Instance: in})
				default:
					set[key] = in
					changes = append(changes, Change{Type: Added, Instance: in})
				}
			}
		}
		if len(changes) == 0 {
			continue
		}
		last := wr.Events[len(wr.Events)-1].Kv.ModRevision
		if !send(ctx, ch, Update{Revision: last, Instances: sorted(set), Changes: changes}) {
			return false
		}
	}
	// The watch ended: ctx is done or the store closed.
	return false
}

func sorted(set map[string]Instance) []Instance {
	out := make([]Instance, 0, len(set))
	for _, k := range slices.Sorted(maps.Keys(set)) {
		out = append(out, set[k])
	}
	return out
}

func send(ctx context.Context, ch chan<- Update, u Update) bool {
	select {
	case ch <- u:
		return true
	case <-ctx.Done():
		return false
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
