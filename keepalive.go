package keel

import (
	"context"
	"errors"
	"time"
)

// keepAliveLoop renews lease id for KeepAlive every third of its TTL,
// retrying every 100 ms after a failure, and offers each response on ch.
// It returns, closing ch, when ctx ends, the member stops, the lease is
// gone, or the lease expired before a renewal succeeded.
func (s *Store) keepAliveLoop(ctx context.Context, id LeaseID, ttl int64, ch chan *LeaseKeepAliveResponse) {
	defer close(ch)
	interval := max(time.Duration(ttl)*time.Second/3, 100*time.Millisecond)
	expires := time.Now().Add(time.Duration(ttl) * time.Second)
	next := interval
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-time.After(next):
		}
		rctx, cancel := context.WithTimeout(ctx, interval)
		resp, err := s.KeepAliveOnce(rctx, id)
		cancel()
		switch {
		case err == nil:
			expires = time.Now().Add(time.Duration(resp.TTL) * time.Second)
			next = interval
			select {
			case ch <- resp:
			default: // the consumer is behind: drop, as clientv3 does
			}
		case errors.Is(err, ErrLeaseNotFound), errors.Is(err, ErrStopped):
			return
		case time.Now().After(expires):
			return // could not renew in time: the lease has expired
		default:
			next = 100 * time.Millisecond
		}
	}
}
