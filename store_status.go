package keel

import (
	"context"
	"slices"
)

// Status returns the status of the member endpoint names and its view of
// the cluster, as clientv3's Maintenance.Status does for an etcd
// endpoint. endpoint "" is this member, which answers without a round
// trip; otherwise it is another member's Name, address or ID (see
// Endpoints in the package documentation), asked over the member port:
// every field of the response is then that member's own (Header.MemberId
// is its ID). An endpoint that names no member fails with
// ErrMemberNotFound; a member that cannot be reached fails with the
// transport's error, or ctx's once it ends.
func (s *Store) Status(ctx context.Context, endpoint string) (*StatusResponse, error) {
	return onMember(ctx, s, endpoint, memberRequest{kind: msgStatus},
		func(context.Context) (*StatusResponse, error) { return s.localStatus() }, decodeStatus)
}

// localStatus is this member's Status.
func (s *Store) localStatus() (*StatusResponse, error) {
	if s.stopped() {
		return nil, s.errStopped()
	}
	size, inUse := s.kv.Size()
	leaderID, leaderName := s.leaderMember()
	st := &StatusResponse{
		Header:  s.clusterHeader(),
		Version: ReleaseVersion,
		Leader:  leaderID, LeaderName: leaderName,
		IsLeader:  s.IsLeader(),
		IsLearner: !s.isVoter(),
		DbSize:    size, DbSizeInUse: inUse, DbSizeQuota: s.quotaBytes(),
		RaftTerm:  s.raft.CurrentTerm(),
		RaftIndex: s.raft.CommitIndex(), RaftLastIndex: s.raft.LastIndex(),
		RaftAppliedIndex: s.fsm.applied.Load(),
		CompactRevision:  s.kv.CompactRev(),
		Errors:           s.statusErrors(),
	}
	return st, nil
}

// leaderMember returns the member ID and Name of the leader this member
// knows, or 0 and "".
func (s *Store) leaderMember() (uint64, string) {
	name := s.Leader()
	if name == "" {
		return 0, ""
	}
	if cs, err := decodeClusterState(s.kv.ClusterState()); err == nil {
		if r := cs.byName(name); r != nil {
			return r.id, name
		}
	}
	return memberNumber(name), name // a first member, which has no record
}

// statusErrors lists what Status reports in Errors.
func (s *Store) statusErrors() []string {
	var errs []string
	if s.leaderAddr() == "" && !s.IsLeader() {
		errs = append(errs, ErrNoLeader.Error())
	}
	for _, m := range s.fsm.alarmSet() {
		errs = append(errs, m.String())
	}
	if err := s.storageErr(); err != nil {
		errs = append(errs, "storage failed: "+err.Error())
	}
	return slices.Clip(errs)
}
