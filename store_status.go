package keel

import (
	"context"
	"slices"
)

// Status returns this member's status and its view of the cluster. It
// does no network round trip.
func (s *Store) Status(ctx context.Context) (*Status, error) {
	if s.stopped() {
		return nil, s.errStopped()
	}
	size, inUse := s.kv.Size()
	st := &Status{
		Header:    s.clusterHeader(),
		Version:   ReleaseVersion,
		Leader:    s.Leader(),
		IsLeader:  s.IsLeader(),
		IsLearner: !s.isVoter(),
		DbSize:    size, DbSizeInUse: inUse, DbSizeQuota: s.quotaBytes(),
		RaftTerm:  s.raft.CurrentTerm(),
		RaftIndex: s.raft.LastIndex(), RaftCommitIndex: s.raft.CommitIndex(),
		RaftAppliedIndex: s.fsm.applied.Load(),
		CompactRevision:  s.kv.CompactRev(),
		Errors:           s.statusErrors(),
	}
	return st, nil
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
