package keel

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Expiry pacing. The leader looks for expired leases every expireTick and
// revokes, each time, as many as its revokePacer allows, earliest
// deadline first: at the default 1000 a second that is 50 every 50 ms, so
// that 10,000 leases expiring at once take 10 s of small rounds rather
// than one long burst of revoke entries in front of every write.
const (
	expireTick = 50 * time.Millisecond
	// revokeBurst is how much unused rate a round may catch up on, after
	// a round that took longer than a tick or a quiet spell.
	revokeBurst = 250 * time.Millisecond
	// maxPendingRevokes bounds the revokes of a round in flight at once
	// (etcd's figure): they share raft batches, one log write for many,
	// without flooding the proposal queue.
	maxPendingRevokes = 16
	// revokeRetry is how long a lease whose revoke was proposed waits
	// before it is proposed again (the revoke failed, or is not applied
	// yet).
	revokeRetry = 3 * time.Second
)

// revokePacer is a token bucket of revokes: rate a second, at most burst
// at once. Not safe for concurrent use (expireLoop owns it).
type revokePacer struct {
	rate   float64 // per second; +Inf means no limit
	burst  float64
	tokens float64
	at     time.Time // of the last take
}

// newRevokePacer paces rate revokes a second; a negative rate means no
// limit.
func newRevokePacer(rate int) *revokePacer {
	if rate < 0 {
		return &revokePacer{rate: math.Inf(1)}
	}
	r := float64(rate)
	return &revokePacer{rate: r, burst: max(1, r*revokeBurst.Seconds())}
}

// take returns how many of want revokes may start at now and consumes
// them.
func (p *revokePacer) take(now time.Time, want int) int {
	if math.IsInf(p.rate, 1) {
		return want
	}
	if p.at.IsZero() {
		p.tokens = p.rate * expireTick.Seconds()
	} else {
		p.tokens = min(p.burst, p.tokens+now.Sub(p.at).Seconds()*p.rate)
	}
	p.at = now
	n := min(want, int(p.tokens))
	p.tokens -= float64(n)
	return n
}

// expireLoop revokes expired leases while this member leads, paced by
// Config.LeaseRevokeRate. It runs apart from the checkpoint loop (run).
func (l *lessor) expireLoop() {
	t := time.NewTicker(expireTick)
	defer t.Stop()
	pacer := newRevokePacer(l.s.cfg.LeaseRevokeRate)
	for {
		select {
		case <-l.s.stop:
			return
		case <-t.C:
		}
		l.expireDue(pacer)
	}
}

// expireDue revokes the leases whose deadline has passed, as many as pacer
// allows, earliest deadline first, after confirming leadership with a
// quorum: a leader cut off from the quorum must not revoke.
func (l *lessor) expireDue(pacer *revokePacer) {
	type dueLease struct {
		id       LeaseID
		deadline time.Time
	}
	now := time.Now()
	var due []dueLease
	l.mu.Lock()
	if l.primary {
		for id, d := range l.deadline {
			if !d.After(now) && !l.retryAt[id].After(now) {
				due = append(due, dueLease{id, d})
			}
		}
	}
	n := pacer.take(now, len(due))
	if n < len(due) {
		slices.SortFunc(due, func(a, b dueLease) int {
			if c := a.deadline.Compare(b.deadline); c != 0 {
				return c
			}
			return cmpInt(int64(a.id), int64(b.id))
		})
	}
	ids := make([]LeaseID, n)
	for i, d := range due[:n] {
		ids[i] = d.id
		l.retryAt[d.id] = now.Add(revokeRetry)
	}
	l.mu.Unlock()
	if n == 0 {
		return
	}
	if n < len(due) {
		l.s.log.Debug("lease revokes paced", "due", len(due), "revoking", n, "rate", l.s.cfg.LeaseRevokeRate)
	}
	term, _, _ := l.s.lead.get()
	ctx, cancel := context.WithTimeout(context.Background(), 2*l.s.cfg.ElectionTimeout)
	err := l.s.confirmLeadership(ctx, term)
	cancel()
	if err != nil || term == 0 {
		return
	}
	l.revokeAll(ids)
}

// revokeAll proposes the revokes of ids, maxPendingRevokes at a time, and
// returns once all are done; after a failure that is not the lease's own
// (leadership lost, the Store stopping) it proposes no more.
func (l *lessor) revokeAll(ids []LeaseID) {
	slots := make(chan struct{}, maxPendingRevokes)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, id := range ids {
		slots <- struct{}{}
		if failed.Load() {
			<-slots
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if !l.revoke(id) {
				failed.Store(true)
			}
		})
	}
	wg.Wait()
}

// revoke proposes the revoke of an expired lease; false means the proposal
// itself failed (it is retried after revokeRetry).
func (l *lessor) revoke(id LeaseID) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*l.s.cfg.ElectionTimeout)
	res, err := l.s.proposeLocal(ctx, encodeLeaseRevokeCommand(id))
	cancel()
	switch {
	case err != nil:
		l.s.log.Warn("lease revoke failed; will retry", "lease", int64(id), "err", err)
		return false
	case res.err != nil && !errors.Is(res.err, ErrLeaseNotFound):
		l.s.log.Warn("lease revoke failed; will retry", "lease", int64(id), "err", res.err)
	default:
		l.s.log.Debug("lease expired", "lease", int64(id))
	}
	return true
}
