package keel

import (
	"runtime"
	"sync"
	"time"
)

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
