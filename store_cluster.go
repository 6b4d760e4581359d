package keel

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"
)

// ID returns this member's ID.
func (s *Store) ID() string { return s.id.MemberID }

// Addr returns the address other members dial to reach this member.
func (s *Store) Addr() string { return s.trans.Addr() }

// MemberList returns the cluster's members as this member knows them.
func (s *Store) MemberList(ctx context.Context) ([]Member, error) {
	if s.stopped() {
		return nil, ErrStopped
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("keel: member list: %w", err)
	}
	var out []Member
	for _, srv := range f.Configuration().Servers {
		out = append(out, Member{ID: string(srv.ID), Addr: string(srv.Address), IsLearner: srv.Suffrage != raft.Voter})
	}
	return out, nil
}

// Leader returns the ID of the current leader, or "" if none is known.
func (s *Store) Leader() string {
	_, id := s.raft.LeaderWithID()
	return string(id)
}

// IsLeader reports whether this member currently leads the cluster.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Status returns this member's view of the cluster. It does no network
// round trip.
func (s *Store) Status(ctx context.Context) (*Status, error) {
	if s.stopped() {
		return nil, ErrStopped
	}
	st := &Status{
		Header: &ResponseHeader{
			ClusterID: s.id.ClusterID, MemberID: s.memberID,
			Revision: s.kv.Rev(), RaftTerm: s.raft.CurrentTerm(),
		},
		Leader: s.Leader(), IsLeader: s.IsLeader(),
		RaftIndex: s.raft.LastIndex(), RaftAppliedIndex: s.fsm.applied.Load(),
		CompactRevision: s.kv.CompactRev(),
	}
	return st, nil
}

// TransferLeadership asks the leader (this member) to hand leadership to
// another voter. It returns an error if this member does not lead.
func (s *Store) TransferLeadership(ctx context.Context) error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	return s.raft.LeadershipTransfer().Error()
}
