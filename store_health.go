package keel

import (
	"context"
	"fmt"
	"time"
)

// defaultHealthTimeout bounds Health when its ctx has no deadline.
const defaultHealthTimeout = 5 * time.Second

// Health answers whether this member can serve a linearizable read now,
// and why not. It runs the checks a read would pass, cheapest first, and
// ends with a real read-index round (a leader confirms its leadership
// with a quorum, and this member applies up to the leader's commit
// index), bounded by ctx, or by 5 seconds (or two election timeouts, if
// longer) when ctx has no deadline.
//
// The response is never nil. When the member is healthy the error is nil;
// otherwise it is the reason, which the response's Reason spells out:
// ErrStopped or ErrRemoved (the member stopped, or was removed), a
// storage failure (the member is stopping), ErrCorrupt (a CORRUPT alarm
// is active for this member), ErrNoLeader (no leader is known, or none
// answered in time), or ErrTimeout (the read-index round did not finish
// in time).
//
// A NOSPACE alarm does not make a member unhealthy: reads are served
// while it holds (Status lists it in Errors). etcd's /health fails on any
// alarm unless told to exclude NOSPACE.
func (s *Store) Health(ctx context.Context) (*HealthResponse, error) {
	err := s.health(ctx)
	resp := &HealthResponse{Header: s.clusterHeader(), Health: err == nil}
	if err != nil {
		resp.Reason = err.Error()
	}
	return resp, err
}

func (s *Store) health(ctx context.Context) error {
	if s.stopped() {
		return s.errStopped()
	}
	if err := s.storageErr(); err != nil {
		return fmt.Errorf("keel: storage failed: %w", err)
	}
	if s.fsm.alarmSet().has(s.memberID.Load(), AlarmCorrupt) {
		return fmt.Errorf("%w: a CORRUPT alarm is active for this member", ErrCorrupt)
	}
	if !s.IsLeader() && s.leaderAddr() == "" {
		return ErrNoLeader
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max(defaultHealthTimeout, 2*s.cfg.ElectionTimeout))
		defer cancel()
	}
	return s.readBarrier(ctx, false)
}
