package keel

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/transport"
)

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
