package keel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// ID returns this member's ID (its Config.ID, the Member's Name).
func (s *Store) ID() string { return s.id.MemberID }

// Addr returns the address other members dial to reach this member.
func (s *Store) Addr() string { return s.trans.Addr() }

// MemberList lists the cluster's members: the voters and learners, and
// the members added with MemberAdd that have not started yet (Name "").
// It is linearizable by default: it reflects every membership change
// completed before the call, and no change that has not committed. With
// WithSerializable it returns this member's view at once, which may lag
// but, as in etcd, shows only committed changes. A member whose removal
// has committed is not listed, even while the leader is still taking it
// out of raft's configuration: it has stopped with ErrRemoved, or stops
// when it next hears from the cluster.
func (s *Store) MemberList(ctx context.Context, opts ...OpOption) (*MemberListResponse, error) {
	op := OpGet("", opts...)
	if err := s.readBarrier(ctx, op.serializable); err != nil {
		return nil, err
	}
	if !op.serializable {
		// After a restart or a snapshot install this member has applied
		// (its database's consistent index) past the entries raft has
		// delivered again, and a configuration change among those is
		// known only once they are: wait for them.
		for target := s.fsm.applied.Load(); s.fsm.delivered.Load() < target; {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
			case <-s.stop:
				return nil, s.errStopped()
			case <-time.After(time.Millisecond):
			}
		}
	}
	views, err := s.committedMemberViews()
	if err != nil {
		return nil, err
	}
	// A member whose removal is decided has stopped (or stops at its next
	// contact); the leader is only finishing the raft side (autopilot).
	views = slices.DeleteFunc(views, func(v memberView) bool { return v.removed })
	return &MemberListResponse{Header: s.clusterHeader(), Members: publicMembers(views)}, nil
}

// MemberAdd reserves a place for a voting member that will listen at
// peerAddrs (one address, "host:port"; etcd's "http://host:port" is
// accepted). The process started with Config.Join that advertises that
// address takes the place and its ID. Unlike etcd, the reservation does
// not count toward the quorum: the member joins as a learner and is
// promoted once it has caught up, so adding a member never makes the
// cluster less available.
func (s *Store) MemberAdd(ctx context.Context, peerAddrs []string) (*MemberAddResponse, error) {
	return s.memberAdd(ctx, peerAddrs, false)
}

// MemberAddAsLearner is MemberAdd for a member that stays a non-voting
// learner until MemberPromote.
func (s *Store) MemberAddAsLearner(ctx context.Context, peerAddrs []string) (*MemberAddResponse, error) {
	return s.memberAdd(ctx, peerAddrs, true)
}

func (s *Store) memberAdd(ctx context.Context, peerAddrs []string, learner bool) (*MemberAddResponse, error) {
	addr, err := parsePeerAddrs(peerAddrs)
	if err != nil {
		return nil, err
	}
	free := s.noneListed(ctx, func(m *Member) bool { return slices.Contains(m.PeerURLs, addr) })
	res, err := s.requestChange(ctx, memberChange{kind: changeAdd, addr: addr, learner: learner})
	if err != nil {
		// A request retried after its reply was lost finds the address
		// reserved: by that request, if nothing held it before.
		m := s.listed(ctx, func(m *Member) bool {
			return m.Name == "" && m.IsLearner == learner && slices.Contains(m.PeerURLs, addr)
		})
		if !errors.Is(err, ErrPeerURLExists) || !free || m == nil {
			return nil, err
		}
		res.id = m.ID
	}
	views, err := s.memberViews()
	if err != nil {
		return nil, err
	}
	resp := &MemberAddResponse{Header: s.clusterHeader(), Members: publicMembers(views)}
	for _, m := range resp.Members {
		if m.ID == res.id {
			resp.Member = m
		}
	}
	if resp.Member == nil {
		return nil, fmt.Errorf("%w: %016x was removed meanwhile", ErrMemberNotFound, res.id)
	}
	return resp, nil
}

// MemberRemove removes the member with id. Removing the leader hands
// leadership to another voter first. The removal is refused with
// ErrUnhealthy if fewer reachable voters than a quorum of the remaining
// voters would be left (unless WithForce) and if id is the last voter.
// The removed member stops serving: its calls return ErrRemoved.
func (s *Store) MemberRemove(ctx context.Context, id uint64, opts ...MemberOption) (*MemberRemoveResponse, error) {
	var o memberOptions
	for _, opt := range opts {
		opt(&o)
	}
	known := s.listed(ctx, func(m *Member) bool { return m.ID == id }) != nil || s.removing(id)
	if _, err := s.requestChange(ctx, memberChange{kind: changeRemove, id: id, force: o.force}); err != nil {
		// A request retried after its reply was lost finds the member
		// gone, or an attempt's outcome stayed unknown (ErrTimeout): if
		// the member is gone now, that is the outcome asked for.
		if !errors.Is(err, ErrMemberNotFound) && !errors.Is(err, ErrTimeout) || !known ||
			!s.noneListed(ctx, func(m *Member) bool { return m.ID == id }) {
			return nil, err
		}
	}
	views, err := s.memberViews()
	if err != nil {
		return nil, err
	}
	return &MemberRemoveResponse{Header: s.clusterHeader(), Members: publicMembers(views)}, nil
}

// listed returns the member of a linearizable member list that match
// picks, or nil (none, or no list). The membership calls ask it before
// and after a change, to tell a change their retried request found made
// (it was not before, it is now) from one made by someone else; the
// member's own view may lag too far for that.
func (s *Store) listed(ctx context.Context, match func(*Member) bool) *Member {
	ml, err := s.MemberList(ctx)
	if err != nil {
		return nil
	}
	if i := slices.IndexFunc(ml.Members, match); i >= 0 {
		return ml.Members[i]
	}
	return nil
}

// MemberUpdate changes the address of the member with id. A member that
// restarts at a new address updates its own entry, so this is needed
// only for a member added with MemberAdd that has not started yet.
func (s *Store) MemberUpdate(ctx context.Context, id uint64, peerAddrs []string) (*MemberUpdateResponse, error) {
	addr, err := parsePeerAddrs(peerAddrs)
	if err != nil {
		return nil, err
	}
	if _, err := s.requestChange(ctx, memberChange{kind: changeUpdate, id: id, addr: addr}); err != nil {
		return nil, err
	}
	views, err := s.memberViews()
	if err != nil {
		return nil, err
	}
	return &MemberUpdateResponse{Header: s.clusterHeader(), Members: publicMembers(views)}, nil
}

// MemberPromote makes learner id a voter. As in etcd, it is refused with
// ErrLearnerNotReady unless the learner's log is close to the leader's
// (within promoteMaxLag entries). Learners that are not permanent are
// promoted automatically; MemberPromote is for permanent learners
// (MemberAddAsLearner, Config.Learner) and for not waiting.
func (s *Store) MemberPromote(ctx context.Context, id uint64) (*MemberPromoteResponse, error) {
	learner := s.listed(ctx, func(m *Member) bool { return m.ID == id && m.IsLearner }) != nil
	if _, err := s.requestChange(ctx, memberChange{kind: changePromote, id: id}); err != nil {
		// A request retried after its reply was lost finds the member a
		// voter, or an attempt's outcome stayed unknown (ErrTimeout): if
		// the member is a voter now, that is the outcome asked for.
		if !errors.Is(err, ErrMemberNotLearner) && !errors.Is(err, ErrTimeout) || !learner ||
			s.listed(ctx, func(m *Member) bool { return m.ID == id && !m.IsLearner }) == nil {
			return nil, err
		}
	}
	views, err := s.memberViews()
	if err != nil {
		return nil, err
	}
	return &MemberPromoteResponse{Header: s.clusterHeader(), Members: publicMembers(views)}, nil
}

// MoveLeader hands leadership to the voter with id. It may be called on
// any member (etcd requires the leader). It returns once the transfer
// is done, or with an error.
func (s *Store) MoveLeader(ctx context.Context, toID uint64) (*MoveLeaderResponse, error) {
	if _, err := s.requestChange(ctx, memberChange{kind: changeMoveLeader, id: toID}); err != nil {
		return nil, err
	}
	return &MoveLeaderResponse{Header: s.clusterHeader()}, nil
}

// Leave removes this member from the cluster and closes it: the graceful
// way to scale down. If it leads, it hands leadership to another voter
// first. It fails, and the member keeps running, if the removal is
// refused (MemberRemove's rules).
func (s *Store) Leave(ctx context.Context) error {
	if s.stopped() {
		return s.errStopped()
	}
	if _, err := s.requestChange(ctx, memberChange{kind: changeRemove, id: s.memberID.Load()}); err != nil && !s.removed.Load() {
		return err
	}
	s.markRemoved()
	return s.close(false)
}

// MemberID returns this member's numeric ID (Member.ID).
func (s *Store) MemberID() uint64 { return s.memberID.Load() }

// memberViews returns the members as this member last applied them.
func (s *Store) memberViews() ([]memberView, error) {
	if s.stopped() {
		return nil, s.errStopped()
	}
	conf, cs, err := s.memberState()
	if err != nil {
		return nil, err
	}
	return members(conf, &cs), nil
}

// committedMemberViews is memberViews for MemberList: raft's latest
// configuration may hold a change that has not committed (a new leader
// may still drop it), so it lists the newest committed configuration
// this member knows (fsm.conf). After a read barrier that is the one
// current when the read started, or newer. With none known yet (a member
// that has neither a snapshot nor applied a configuration entry since it
// started), raft's latest is listed.
func (s *Store) committedMemberViews() ([]memberView, error) {
	conf := s.fsm.conf.Load()
	if conf == nil {
		return s.memberViews()
	}
	if s.stopped() {
		return nil, s.errStopped()
	}
	cs, err := decodeClusterState(s.kv.ClusterState())
	if err != nil {
		return nil, err
	}
	return members(*conf, &cs), nil
}

// newestSnapshot returns the metadata of the newest raft snapshot on
// disk, or nil if there is none.
func (s *Store) newestSnapshot() *raft.SnapshotMeta {
	metas, err := s.snaps.List()
	if err != nil || len(metas) == 0 {
		return nil
	}
	return metas[0]
}

// clusterHeader is the header of a membership response.
func (s *Store) clusterHeader() *ResponseHeader {
	return s.headerPtr()
}

// Leader returns the ID of the current leader, or "" if none is known.
func (s *Store) Leader() string {
	_, id := s.raft.LeaderWithID()
	return string(id)
}

// IsLeader reports whether this member currently leads the cluster.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// isVoter reports whether this member votes in raft's latest configuration.
func (s *Store) isVoter() bool {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, srv := range f.Configuration().Servers {
		if srv.ID == raft.ServerID(s.id.MemberID) {
			return srv.Suffrage == raft.Voter
		}
	}
	return false
}

// removing reports whether this member has applied a decided removal of
// member id (its record marked) that is not finished yet: MemberList no
// longer shows it.
func (s *Store) removing(id uint64) bool {
	views, err := s.memberViews()
	if err != nil {
		return false
	}
	v := findMember(views, id)
	return v != nil && v.removed
}

// noneListed reports whether a linearizable member list has no member
// that match picks: false when there is no list.
func (s *Store) noneListed(ctx context.Context, match func(*Member) bool) bool {
	ml, err := s.MemberList(ctx)
	return err == nil && !slices.ContainsFunc(ml.Members, match)
}
