package keel

// Member describes one member of the cluster, in the shape of clientv3's
// Member.
type Member struct {
	// ID is the member's numeric ID, unique in the cluster and never
	// reused: a member removed and added again gets a new ID. For a first
	// member of a bootstrapped cluster it is derived from its Name.
	ID uint64
	// Name is the member's Config.ID (its raft server ID), or "" for a
	// member added with MemberAdd that has not started yet.
	Name string
	// PeerURLs holds the address other members dial to reach it.
	PeerURLs []string
	// ClientURLs is empty: a Keel member serves its clients in process.
	ClientURLs []string
	// IsLearner reports a non-voting member: it replicates the log and
	// serves reads but does not vote. A member that joins is a learner
	// until it is promoted (automatically, unless it is a permanent
	// learner).
	IsLearner bool
}

// MemberListResponse is the result of MemberList.
type MemberListResponse struct {
	Header  *ResponseHeader
	Members []*Member
}

// MemberAddResponse is the result of MemberAdd and MemberAddAsLearner.
type MemberAddResponse struct {
	Header *ResponseHeader
	// Member is the added member.
	Member *Member
	// Members is the member list after the change.
	Members []*Member
}

// MemberRemoveResponse is the result of MemberRemove.
type MemberRemoveResponse struct {
	Header  *ResponseHeader
	Members []*Member
}

// MemberUpdateResponse is the result of MemberUpdate.
type MemberUpdateResponse struct {
	Header  *ResponseHeader
	Members []*Member
}

// MemberPromoteResponse is the result of MemberPromote.
type MemberPromoteResponse struct {
	Header  *ResponseHeader
	Members []*Member
}

// MoveLeaderResponse is the result of MoveLeader.
type MoveLeaderResponse struct {
	Header *ResponseHeader
}

// MemberOption configures a membership call.
type MemberOption func(*memberOptions)

type memberOptions struct {
	force bool
}

// WithForce makes MemberRemove skip its quorum check: it removes the
// member even if fewer reachable voters than a quorum of the new
// configuration would remain. Use it to remove a member that is down for
// good from a cluster that has lost its quorum's spare capacity.
func WithForce() MemberOption {
	return func(o *memberOptions) { o.force = true }
}

// Status describes this member and its view of the cluster, with the
// fields of clientv3's StatusResponse where they exist there.
type Status struct {
	Header *ResponseHeader
	// Version is the Keel version the member runs (ReleaseVersion).
	Version string
	// Leader is the ID (Config.ID) of the current leader, or "" if none is
	// known. etcd reports the leader's numeric member ID here.
	Leader string
	// IsLeader reports whether this member leads.
	IsLeader bool
	// IsLearner reports whether this member is a non-voting learner.
	IsLearner bool
	// DbSize is the size of this member's key-value database in bytes, as
	// bbolt has allocated it (its high-water mark; the file may be
	// preallocated beyond it), as of its latest commit.
	DbSize int64
	// DbSizeInUse is the part of DbSize in use: DbSize minus bbolt's free
	// pages. Compaction lowers it; only defragmentation lowers DbSize.
	// The space quota applies to it.
	DbSizeInUse int64
	// DbSizeQuota is this member's space quota in bytes
	// (Config.QuotaBytes with its default applied), 0 if it has none.
	DbSizeQuota int64
	// Errors lists what is wrong, as etcd does: "no leader" when no leader
	// is known, every active alarm of the cluster (AlarmMember.String,
	// such as "memberID:42 alarm:NOSPACE") and a failure of this member's
	// storage (the member then stops).
	Errors []string
	// RaftTerm is this member's current raft term.
	RaftTerm uint64
	// RaftIndex is the index of the last entry in this member's log.
	// etcd's RaftIndex is the commit index: see RaftCommitIndex.
	RaftIndex uint64
	// RaftCommitIndex is the index of the last entry this member knows to
	// be committed.
	RaftCommitIndex uint64
	// RaftAppliedIndex is the index of the last entry applied to the store.
	RaftAppliedIndex uint64
	// CompactRevision is the revision up to which history was compacted.
	CompactRevision int64
}
