package lock

import (
	"context"

	"github.com/keeldb/keel"
)

// Observe returns a channel that delivers the current leader (as a
// GetResponse holding its key-value pair, a pointer as in etcd 3.7) and
// then every change of leadership or of the leader's value, in order,
// rolling over to the next leader when the leader key is deleted. A slow
// reader may miss intermediate leaders but always gets the latest value.
// Treat the responses as read-only: their key-value pairs may be shared
// with other watchers of the key. The channel is closed when ctx ends
// or a read or watch fails; unlike etcd's, it survives a compaction of the
// revisions it was watching (it reads the leader again).
func (e *Election) Observe(ctx context.Context) <-chan *keel.GetResponse {
	ch := make(chan *keel.GetResponse)
	go e.observe(ctx, ch)
	return ch
}

func (e *Election) observe(ctx context.Context, ch chan<- *keel.GetResponse) {
	defer close(ch)
	if e.pfx == "/" {
		return
	}
	client := e.s.client
	send := func(hdr keel.ResponseHeader, kv *keel.KeyValue) bool {
		select {
		case ch <- &keel.GetResponse{Header: &hdr, Kvs: []*keel.KeyValue{kv}, Count: 1}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		resp, err := client.Get(ctx, e.pfx, keel.WithFirstCreate()...)
		if err != nil {
			return
		}
		var kv *keel.KeyValue
		var hdr keel.ResponseHeader
		if len(resp.Kvs) == 0 {
			// Wait for the first candidate.
			wctx, cancel := context.WithCancel(ctx)
			wch := client.Watch(wctx, e.pfx, keel.WithPrefix(), keel.WithRev(resp.Header.Revision+1))
			for kv == nil {
				wr, ok := <-wch
				if !ok || wr.Canceled {
					cancel()
					if ok && wr.CompactRevision != 0 {
						break // re-read
					}
					return
				}
				for _, ev := range wr.Events {
					if ev.Type == keel.EventTypePut {
						kv, hdr = ev.Kv, watchHeader(&wr)
						hdr.Revision = kv.ModRevision
						break
					}
				}
			}
			cancel()
			if kv == nil {
				continue
			}
		} else {
			kv, hdr = resp.Kvs[0], *resp.Header
		}
		if !send(hdr, kv) {
			return
		}
		// Follow the leader key until it is deleted.
		wctx, cancel := context.WithCancel(ctx)
		wch := client.Watch(wctx, string(kv.Key), keel.WithRev(hdr.Revision+1))
		for deleted := false; !deleted; {
			wr, ok := <-wch
			if !ok {
				cancel()
				return
			}
			if wr.Canceled {
				if wr.CompactRevision != 0 {
					break // re-read the leader
				}
				cancel()
				return
			}
			for _, ev := range wr.Events {
				if ev.Type == keel.EventTypeDelete {
					deleted = true
					break
				}
				if !send(watchHeader(&wr), ev.Kv) {
					cancel()
					return
				}
			}
		}
		cancel()
	}
}
