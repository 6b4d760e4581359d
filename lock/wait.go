package lock

import (
	"context"
	"fmt"
	"time"

	"github.com/keeldb/keel"
)

// waitTurn blocks until no key under pfx has a CreateRevision at or below
// maxCreateRev, that is until every earlier waiter has gone. It watches
// only the nearest earlier key at a time (no thundering herd), plus the
// caller's own key myKey: if that is deleted (the session's lease expired
// on the store's side) or the session ends, it returns ErrSessionExpired.
func waitTurn(ctx context.Context, s *Session, pfx, myKey string, myRev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := s.client
	own := client.Watch(wctx, myKey, keel.WithRev(myRev+1), keel.WithFilterPut())
	opts := append(keel.WithLastCreate(), keel.WithMaxCreateRev(myRev-1))
	for {
		resp, err := client.Get(ctx, pfx, opts...)
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		pred := string(resp.Kvs[0].Key)
		if own, err = waitDelete(wctx, s, pred, resp.Header.Revision+1, own, myKey, myRev); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// waitDelete waits for key to be deleted at or after revision rev. It
// returns nil also when the watch on key was compacted away, for the
// caller to look again. own watches the caller's own key; it is re-created
// when compaction cancels it.
func waitDelete(ctx context.Context, s *Session, key string, rev int64, own keel.WatchChan, myKey string, myRev int64) (keel.WatchChan, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := s.client.Watch(wctx, key, keel.WithRev(rev), keel.WithFilterPut())
	for {
		select {
		case <-ctx.Done():
			return own, ctx.Err()
		case <-s.Done():
			return own, ErrSessionExpired
		case wr, ok := <-own:
			switch {
			case !ok:
				return own, lostWatch(ctx, nil)
			case wr.CompactRevision != 0:
				// Our key's history is gone: check it still exists and
				// watch it again from now on.
				gr, err := s.client.Get(ctx, myKey)
				if err != nil {
					return own, err
				}
				if len(gr.Kvs) == 0 || gr.Kvs[0].CreateRevision != myRev {
					return own, ErrSessionExpired
				}
				own = s.client.Watch(ctx, myKey, keel.WithRev(gr.Header.Revision+1), keel.WithFilterPut())
			case wr.Canceled:
				return own, lostWatch(ctx, wr.Err())
			case len(wr.Events) > 0:
				return own, ErrSessionExpired // only deletes pass the filter
			}
		case wr, ok := <-wch:
			switch {
			case !ok:
				return own, lostWatch(ctx, nil)
			case wr.CompactRevision != 0:
				return own, nil // look again
			case wr.Canceled:
				return own, lostWatch(ctx, wr.Err())
			case len(wr.Events) > 0:
				return own, nil
			}
		}
	}
}

func lostWatch(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWatchLost, err)
	}
	return ErrWatchLost
}

// abandon deletes key after a create whose outcome is unknown (the
// request failed or its ctx ended after it was proposed), so a put that
// did apply does not stay queued until the session ends. It uses its own
// bounded context: the caller's may have ended.
func abandon(s *Session, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.ttl)*time.Second)
	defer cancel()
	_, _ = s.client.Delete(ctx, key)
}
