package keel

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// leaderState tracks this member's leadership as leaderLoop sees it:
// whether it leads (and a channel closed when it stops), and whether, as
// leader, it may serve read-index requests: only after a command of its
// own term has been applied, which proves every entry committed by earlier
// leaders has been applied too.
type leaderState struct {
	mu      sync.Mutex
	lost    chan struct{} // open while leading; closed when leadership ends
	term    uint64        // term in which the ready entry was applied; 0 = not ready
	index   uint64        // raft index of that entry
	changed chan struct{} // closed and replaced on every readiness change
}

func (l *leaderState) init() {
	l.changed = make(chan struct{})
	l.lost = make(chan struct{})
	close(l.lost)
}

// startLeading records that this member became leader.
func (l *leaderState) startLeading() {
	l.mu.Lock()
	select {
	case <-l.lost:
		l.lost = make(chan struct{})
	default:
	}
	l.mu.Unlock()
}

// stopLeading records that this member no longer leads.
func (l *leaderState) stopLeading() {
	l.mu.Lock()
	select {
	case <-l.lost:
	default:
		close(l.lost)
	}
	l.term, l.index = 0, 0
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// leading returns a channel closed when leadership ends, and whether this
// member leads.
func (l *leaderState) leading() (<-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.lost:
		return l.lost, false
	default:
		return l.lost, true
	}
}

func (l *leaderState) setReady(term, index uint64) {
	l.mu.Lock()
	l.term, l.index = term, index
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *leaderState) get() (term, index uint64, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term, l.index, l.changed
}

// waitReady blocks until the member is a ready leader.
func (l *leaderState) waitReady(ctx context.Context, stop <-chan struct{}) error {
	for {
		term, _, ch := l.get()
		if term != 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return ErrStopped
		}
	}
}

// leaderLoop follows raft's leadership changes. On gaining leadership it
// commits a no-op command of the new term and marks the member ready once
// the FSM has applied it.
func (s *Store) leaderLoop() {
	for {
		select {
		case <-s.stop:
			s.lead.stopLeading()
			return
		case isLeader := <-s.raft.LeaderCh():
			s.lead.stopLeading()
			s.leases.demote()
			if isLeader {
				s.lead.startLeading()
				s.establishLeadership()
			}
		}
	}
}

func (s *Store) establishLeadership() {
	backoff := 10 * time.Millisecond
	for !s.stopped() && s.raft.State() == raft.Leader {
		term := s.raft.CurrentTerm()
		ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.ElectionTimeout)
		res, err := s.proposeLocal(ctx, encodeNoop())
		cancel()
		if err == nil && res.err == nil && s.raft.State() == raft.Leader && s.raft.CurrentTerm() == term {
			s.leases.promote()
			s.lead.setReady(term, res.index)
			s.log.Info("leader ready", "term", term, "index", res.index)
			return
		}
		s.log.Warn("leader no-op failed", "term", term, "err", err)
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// leaderAddr returns the address of the current leader, or "".
func (s *Store) leaderAddr() string {
	addr, _ := s.raft.LeaderWithID()
	return string(addr)
}
