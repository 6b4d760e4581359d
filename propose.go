package keel

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
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

// pending returns the number of proposals waiting for their result.
func (p *proposals) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
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
func (s *Store) propose(ctx context.Context, cmd []byte) (_ *applyResult, err error) {
	if len(cmd) > s.cfg.MaxRequestBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrRequestTooLarge, len(cmd), s.cfg.MaxRequestBytes)
	}
	if err := s.checkLeader(ctx); err != nil {
		return nil, err
	}
	defer s.met.proposed(&err)
	if len(cmd) > 1 && cmd[1] != cmdAlarm { // a corrupt member still raises and clears alarms
		if err := s.corruptErr(); err != nil {
			return nil, err
		}
	}
	backoff := 2 * time.Millisecond
	for {
		if s.stopped() {
			return nil, s.errStopped()
		}
		var res *applyResult
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
			return nil, s.errStopped()
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
		return nil, ErrTimeoutDueToLeaderFail
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-s.stop:
		return nil, fmt.Errorf("%w: %w", ErrTimeout, s.errStopped())
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
		return nil, fmt.Errorf("%w: %w", ErrTimeout, s.errStopped())
	case errors.Is(err, transport.ErrConnLost): // sent, outcome unknown
		return nil, fmt.Errorf("%w: forwarding to %s: %w", ErrTimeoutDueToConnectionLost, addr, err)
	default: // sent, outcome unknown
		return nil, fmt.Errorf("%w: forwarding to %s: %w", ErrTimeout, addr, err)
	}
	res, err := decodeResult(resp)
	if err != nil {
		return nil, fmt.Errorf("%w: undecodable reply from %s: %w", ErrTimeout, addr, err)
	}
	return res, nil
}

// proposalBatch hands concurrent local proposals to raft together, so that
// raft stores them as one log batch and replicates them in one
// AppendEntries.
//
// Without it, each proposer calls raft.Apply on its own: the send readies
// raft's leader loop, which the Go scheduler runs next on the same P, ahead
// of the other proposers the FSM just woke. The leader loop then finds one
// entry, stores it and starts its replication, and the next proposer's
// entry goes out on its own, and so on: one log write per proposal and
// small, split AppendEntries (so extra fsyncs on the followers).
//
// Here the first proposer to find no collection running becomes the
// collector: it queues its own proposal, yields once so that the
// proposers already runnable queue theirs, then hands the whole queue to
// raft.Apply in order. The others only queue and return. A proposer's
// result still comes from the FSM (proposals), never from raft's future, so
// who hands an entry to raft does not matter to its waiter. The collector
// is delayed at most by the enqueue timeouts of the proposals it hands
// over, each bounded by its own deadline.
type proposalBatch struct {
	// apply hands one proposal to raft (raft.Apply); yield lets runnable
	// proposers queue before the collector takes the queue. Tests replace
	// yield to order the goroutines.
	apply func(queuedProposal)
	yield func()

	mu         sync.Mutex
	queue      []queuedProposal
	spare      []queuedProposal // the last handed-over queue, for reuse
	collecting bool             // a collector will take the queue
}

// queuedProposal is one command (with its request ID) waiting to be
// handed to raft, and the time by which raft must accept it.
type queuedProposal struct {
	data     []byte
	deadline time.Time
}

// enqueueTimeout is how long raft.Apply may wait for raft to accept p:
// until p's deadline, and at least a millisecond.
func (p queuedProposal) enqueueTimeout() time.Duration {
	return max(time.Until(p.deadline), time.Millisecond)
}

func newProposalBatch(apply func(queuedProposal)) *proposalBatch {
	return &proposalBatch{apply: apply, yield: runtime.Gosched}
}

// submit hands p to raft, itself or through the running collector. It
// returns once p is queued for a collector or handed to raft.
func (b *proposalBatch) submit(p queuedProposal) {
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.collecting {
		b.mu.Unlock()
		return
	}
	b.collecting = true
	b.mu.Unlock()

	b.yield()

	b.mu.Lock()
	q := b.queue
	b.queue, b.spare = b.spare[:0], nil
	b.collecting = false
	b.mu.Unlock()
	for _, p := range q {
		b.apply(p)
	}
	clear(q) // drop the commands
	b.mu.Lock()
	if b.spare == nil {
		b.spare = q[:0]
	}
	b.mu.Unlock()
}
