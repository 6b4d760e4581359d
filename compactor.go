package keel

import (
	"context"
	"fmt"
	"time"
)

// waitPhysical waits for the physical compaction of a result applied on
// this member (a forwarded result was already waited for by the leader).
func waitPhysical(ctx context.Context, res *applyResult, stop <-chan struct{}) error {
	if res.compactDone == nil {
		return nil
	}
	select {
	case <-res.compactDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for physical compaction: %w", ErrTimeout, ctx.Err())
	case <-stop:
		return ErrStopped
	}
}

// revSample is one observation of the revision, for window compaction.
type revSample struct {
	at  time.Time
	rev int64
}

// autoCompactLoop compacts history automatically when Config asks for it:
// keep the last AutoCompactRevisions revisions, and/or the revisions of the
// last AutoCompactWindow. Every member samples its revision; only the
// leader proposes compactions. With both set, the more generous one wins.
func (s *Store) autoCompactLoop() {
	keepRevs, window := s.cfg.AutoCompactRevisions, s.cfg.AutoCompactWindow
	if keepRevs <= 0 && window <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.AutoCompactInterval)
	defer t.Stop()
	var samples []revSample
	for {
		var now time.Time
		select {
		case <-s.stop:
			return
		case now = <-t.C:
		}
		rev := s.kv.Rev()
		samples = append(samples, revSample{at: now, rev: rev})
		target := int64(-1)
		if keepRevs > 0 {
			target = rev - keepRevs
		}
		if window > 0 {
			// The newest sample at least window old bounds what may go;
			// older samples are no longer needed.
			wt := int64(0)
			cut := 0
			for i, sm := range samples {
				if now.Sub(sm.at) >= window {
					wt, cut = sm.rev, i
				}
			}
			samples = samples[cut:]
			if target < 0 || wt < target {
				target = wt
			}
		}
		if target <= s.kv.CompactRev() || !s.IsLeader() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*s.cfg.ElectionTimeout)
		_, err := s.Compact(ctx, target)
		cancel()
		if err != nil {
			s.log.Warn("auto compaction failed", "rev", target, "err", err)
		} else {
			s.log.Info("auto compacted", "rev", target)
		}
	}
}
