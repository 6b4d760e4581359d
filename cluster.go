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
