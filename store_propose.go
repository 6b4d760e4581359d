package keel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/transport"
)

// propose replicates cmd through raft and returns the leader's apply
// result. On a follower the command is forwarded to the leader. It retries
// only while the command has certainly not been applied (no leader known,
// leader unreachable, request refused before entering the log); once the
// command may have entered the log, a lost leader, a lost connection or an
// expired ctx is reported as ErrTimeout (outcome unknown), never retried.
func (s *Store) propose(ctx context.Context, cmd []byte) (*applyResult, error) {
	if len(cmd) > s.cfg.MaxRequestBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrRequestTooLarge, len(cmd), s.cfg.MaxRequestBytes)
	}
	backoff := 2 * time.Millisecond
	for {
		if s.stopped() {
			return nil, ErrStopped
		}
		var res *applyResult
		var err error
		if s.raft.State() == raft.Leader {
			res, err = s.proposeLocal(ctx, cmd)
		} else if addr := s.leaderAddr(); addr != "" {
			res, err = s.forward(ctx, addr, cmd)
		} else {
			err = ErrNoLeader
		}
		if err == nil && errors.Is(res.err, ErrNotLeader) {
			err = ErrNotLeader
		}
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrNoLeader) {
			return nil, err
		}
		// Not applied: wait for a (new) leader and retry.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-s.stop:
			return nil, ErrStopped
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// proposeLocal applies cmd through raft on this member, which believes it
// leads.
func (s *Store) proposeLocal(ctx context.Context, cmd []byte) (*applyResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoLeader, err) // not proposed
	}
	enqueue := s.cfg.ElectionTimeout
	if dl, ok := ctx.Deadline(); ok {
		enqueue = min(enqueue, max(time.Until(dl), time.Millisecond))
	}
	f := s.raft.Apply(cmd, enqueue)
	done := make(chan struct{})
	var ferr error
	go func() {
		ferr = f.Error()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-s.stop:
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ErrStopped)
	}
	switch {
	case ferr == nil:
		res, ok := f.Response().(*applyResult)
		if !ok || res == nil {
			return nil, fmt.Errorf("%w: no apply result for index %d", ErrTimeout, f.Index())
		}
		return res, nil
	case errors.Is(ferr, raft.ErrNotLeader), errors.Is(ferr, raft.ErrLeadershipTransferInProgress),
		errors.Is(ferr, raft.ErrEnqueueTimeout):
		return nil, ErrNotLeader
	case errors.Is(ferr, raft.ErrRaftShutdown):
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ErrStopped)
	default: // ErrLeadershipLost, ErrAbortedByRestore: the entry may still commit
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ferr)
	}
}

// forward sends cmd to the leader at addr and returns its apply result.
func (s *Store) forward(ctx context.Context, addr string, cmd []byte) (*applyResult, error) {
	req := make([]byte, 0, 1+len(cmd))
	req = append(append(req, msgPropose), cmd...)
	resp, err := s.trans.Call(ctx, addr, req)
	switch {
	case err == nil:
	case errors.Is(err, transport.ErrUnreachable):
		return nil, ErrNotLeader // never sent: safe to retry
	case s.stopped():
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ErrStopped)
	default: // sent, outcome unknown
		return nil, fmt.Errorf("%w: forwarding to %s: %w", ErrTimeout, addr, err)
	}
	res, err := decodeResult(resp)
	if err != nil {
		return nil, fmt.Errorf("%w: undecodable reply from %s: %w", ErrTimeout, addr, err)
	}
	return res, nil
}
