package keel

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/transport"
)

// proposals matches proposals to their results. A proposer registers a
// request ID, the ID travels in the command, and this member's FSM hands
// the entry's result to the waiter when it applies it. Keel does not wait
// on raft's own futures: raft can leave them unresolved when it shuts down
// or loses leadership, and a waiter must always be able to give up on its
// context or on Close. It is safe for concurrent use.
type proposals struct {
	mu      sync.Mutex
	next    uint64
	waiters map[uint64]chan *applyResult
}

func newProposals() *proposals {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux; a zero base is still correct
	// A random base keeps IDs of different members (and of a member's
	// earlier runs) apart: an entry proposed elsewhere never matches.
	return &proposals{next: binary.BigEndian.Uint64(b[:]) | 1, waiters: map[uint64]chan *applyResult{}}
}

func (p *proposals) add() (uint64, chan *applyResult) {
	ch := make(chan *applyResult, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	if p.next == 0 {
		p.next = 1
	}
	p.waiters[p.next] = ch
	return p.next, ch
}

func (p *proposals) remove(id uint64) {
	p.mu.Lock()
	delete(p.waiters, id)
	p.mu.Unlock()
}

// deliver hands res to the waiter of id, if it still waits.
func (p *proposals) deliver(id uint64, res *applyResult) {
	if id == 0 {
		return
	}
	p.mu.Lock()
	ch, ok := p.waiters[id]
	delete(p.waiters, id)
	p.mu.Unlock()
	if ok {
		ch <- res
	}
}

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
// leads, and waits for this member's FSM to apply it. Once the command is
// handed to raft its outcome is unknown until applied: if this member stops
// leading, ctx ends or the Store closes first, the result is ErrTimeout.
func (s *Store) proposeLocal(ctx context.Context, cmd []byte) (*applyResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoLeader, err) // not proposed
	}
	lost, leading := s.lead.leading()
	if !leading || s.raft.State() != raft.Leader {
		return nil, ErrNotLeader
	}
	id, ch := s.props.add()
	defer s.props.remove(id)
	// raft must accept the entry within ElectionTimeout, or by ctx's
	// deadline if sooner.
	deadline := time.Now().Add(s.cfg.ElectionTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	s.batch.submit(queuedProposal{data: withReqID(cmd, id), deadline: deadline})
	select {
	case res := <-ch:
		return res, nil
	case <-lost:
		return nil, fmt.Errorf("%w: leadership lost", ErrTimeout)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-s.stop:
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ErrStopped)
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
