package keel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
	"github.com/keeldb/keel/transport"
)

// readIndexer serves linearizable reads with the read-index protocol and
// batches them: all reads that arrive while one confirmation round is in
// flight share the next round. A round on the leader captures the commit
// index, confirms leadership with a quorum and returns the index; a round
// on a follower asks the leader for that index in one RPC. Every reader
// then waits until its own member has applied the index and reads local
// state. Readers of a round share one readRound (no allocation per read).
// It is safe for concurrent use.
type readIndexer struct {
	s    *Store
	mu   sync.Mutex
	next *readRound // the round that readers arriving now join; nil if none
	kick chan struct{}
}

// readRound is one confirmation round and its result, published by
// closing done.
type readRound struct {
	done chan struct{}
	idx  uint64
	err  error
}

func newReadIndexer(s *Store) *readIndexer {
	return &readIndexer{s: s, kick: make(chan struct{}, 1)}
}

// index returns a raft index that a linearizable read must wait for.
func (ri *readIndexer) index(ctx context.Context) (uint64, error) {
	ri.mu.Lock()
	r := ri.next
	if r == nil {
		r = &readRound{done: make(chan struct{})}
		ri.next = r
	}
	ri.mu.Unlock()
	select {
	case ri.kick <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
		return r.idx, r.err
	case <-ctx.Done():
		if ri.s.leaderAddr() == "" {
			return 0, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		}
		return 0, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-ri.s.stop:
		return 0, ri.s.errStopped()
	}
}

// take returns the round readers have joined so far (nil if none) and
// makes later readers start a new one.
func (ri *readIndexer) take() *readRound {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	r := ri.next
	ri.next = nil
	return r
}

func (ri *readIndexer) run() {
	s := ri.s
	for {
		select {
		case <-s.stop:
			return
		case <-ri.kick:
		}
		for {
			r := ri.take()
			if r == nil {
				break
			}
			// Every fetch for r starts after all of r's readers arrived
			// (they joined before take), so any of its results will do;
			// a failed fetch is simply repeated after a backoff.
			backoff := 5 * time.Millisecond
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.ElectionTimeout)
				idx, err := s.fetchReadIndex(ctx)
				cancel()
				if err == nil || !retryableRead(err) {
					r.idx, r.err = idx, err
					close(r.done)
					break
				}
				select {
				case <-s.stop:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 100*time.Millisecond)
			}
		}
	}
}

// retryableRead reports whether a failed round may simply be retried:
// reads have no side effects, so every failure but a stop is retryable.
func retryableRead(err error) bool {
	return !errors.Is(err, ErrStopped)
}

// fetchReadIndex runs one confirmation round.
func (s *Store) fetchReadIndex(ctx context.Context) (uint64, error) {
	if s.raft.State() == raft.Leader {
		return s.leaderReadIndex(ctx)
	}
	addr := s.leaderAddr()
	if addr == "" {
		return 0, ErrNoLeader
	}
	resp, err := s.trans.Call(ctx, addr, []byte{msgReadIndex})
	if err != nil {
		if errors.Is(err, transport.ErrClosed) && s.stopped() {
			return 0, s.errStopped()
		}
		return 0, err
	}
	return decodeReadIndexResponse(resp)
}

// leaderReadIndex confirms, as leader, that this member still leads and
// returns the index a linearizable read must wait for: the commit index
// captured before leadership was confirmed by a quorum (raft #603's
// recipe). It returns ErrNotLeader if the member does not lead.
func (s *Store) leaderReadIndex(ctx context.Context) (uint64, error) {
	for {
		if s.raft.State() != raft.Leader {
			return 0, ErrNotLeader
		}
		term, readyIdx, ch := s.lead.get()
		if term == 0 || term != s.raft.CurrentTerm() {
			select { // wait until the no-op of this term is applied
			case <-ch:
				continue
			case <-ctx.Done():
				return 0, fmt.Errorf("%w: leader not ready: %w", ErrTimeout, ctx.Err())
			case <-s.stop:
				return 0, s.errStopped()
			}
		}
		idx := s.raft.CommitIndex()
		if err := s.confirmLeadership(ctx, term); err != nil {
			return 0, err
		}
		return max(idx, readyIdx), nil
	}
}

// confirmLeadership proves that this member still led in term term at
// some moment after the call began: a quorum of voters (itself included)
// answers that its current term is term and its leader is this member. A
// newer leader needs the votes of a quorum, which overlaps this one in a
// member that answered before voting for it, so no newer leader was
// elected before the call began, and nothing it commits can be missing
// from a read that waits for the commit index captured before the call.
//
// This is what raft's VerifyLeader does with heartbeats; Keel asks over its
// own RPCs instead because raft can leave VerifyLeader's future unresolved
// across a shutdown or leadership loss, and every wait here must end with
// ctx or Close.
func (s *Store) confirmLeadership(ctx context.Context, term uint64) error {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	self := raft.ServerID(s.id.MemberID)
	var peers []raft.Server
	voters := 0
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage != raft.Voter {
			continue
		}
		voters++
		if srv.ID != self {
			peers = append(peers, srv)
		}
	}
	need := voters/2 + 1 - 1 // this member votes for itself
	if need <= 0 {
		if s.raft.State() != raft.Leader || s.raft.CurrentTerm() != term {
			return ErrNotLeader
		}
		return nil
	}
	// Outstanding calls end as soon as this returns (or the Store closes).
	ctx, cancel := context.WithTimeout(ctx, 2*s.cfg.ElectionTimeout)
	defer cancel()
	defer context.AfterFunc(s.stopCtx, cancel)()
	req := binary.AppendUvarint([]byte{msgConfirm}, term)
	req = append(req, s.id.MemberID...)
	answers := make(chan transport.CallResult, len(peers)) // room for every call: see Transport.Go
	for _, p := range peers {
		s.trans.Go(ctx, string(p.Address), req, answers)
	}
	yes, no := 0, 0
	for range peers {
		if a := <-answers; a.Err == nil && len(a.Resp) == 1 && a.Resp[0] == 1 {
			yes++
		} else {
			no++
		}
		if yes >= need {
			if s.raft.CurrentTerm() != term {
				return ErrNotLeader
			}
			return nil
		}
		if no > len(peers)-need {
			break
		}
	}
	return ErrNotLeader
}

// serveConfirm answers a leadership confirmation: yes iff this member is a
// follower in the asker's term and knows the asker as its leader.
func (s *Store) serveConfirm(payload []byte) []byte {
	term, n := binary.Uvarint(payload)
	if n <= 0 {
		return []byte{0}
	}
	leader := string(payload[n:])
	_, id := s.raft.LeaderWithID()
	if s.raft.State() == raft.Follower && s.raft.CurrentTerm() == term && string(id) == leader {
		return []byte{1}
	}
	return []byte{0}
}

func encodeReadIndexResponse(idx uint64, err error) []byte {
	e := wire.Encoder{}
	if err != nil {
		encodeError(&e, err)
		return e.Buf
	}
	e.Byte(0)
	e.Uvarint(idx)
	return e.Buf
}

func decodeReadIndexResponse(b []byte) (uint64, error) {
	d := wire.NewDecoder(b, ErrCorruptCommand)
	code := d.Byte()
	if code != 0 {
		err := decodeError(d, code)
		if derr := d.Finish(); derr != nil {
			return 0, derr
		}
		return 0, err
	}
	idx := d.Uvarint()
	return idx, d.Finish()
}
