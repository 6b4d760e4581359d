package keel

// CompactResponse is the response to Compact.
type CompactResponse struct {
	Header *ResponseHeader
}

// CompactOp is a compaction request: a revision and its options, as
// clientv3's CompactOp. OpCompact builds one; Compact makes and runs one.
type CompactOp struct {
	revision int64
	physical bool
}

// CompactOption configures Compact.
type CompactOption func(*CompactOp)

// OpCompact returns the compaction of history before revision rev, with
// opts applied.
func OpCompact(rev int64, opts ...CompactOption) CompactOp {
	op := CompactOp{revision: rev}
	for _, opt := range opts {
		if opt != nil {
			opt(&op)
		}
	}
	return op
}

// WithCompactPhysical makes Compact return only once the compacted
// revisions have been removed from the leader's database, not just hidden.
func WithCompactPhysical() CompactOption {
	return func(o *CompactOp) { o.physical = true }
}

// HashKVResponse is the response to HashKV.
type HashKVResponse struct {
	// Header.Revision is the member's current revision.
	Header *ResponseHeader
	// Hash is a CRC-32C over the key history up to HashRevision: every
	// key revision still in history at or below it (puts with their
	// values, deletions), in key then revision order, and the compaction
	// revision. Members that applied the same history report the same
	// hash at the same HashRevision and CompactRevision.
	Hash uint32
	// CompactRevision is the revision history was compacted to when the
	// hash was taken. Compare hashes only between equal CompactRevisions:
	// a compaction changes the history without changing the revision.
	CompactRevision int64
	// HashRevision is the revision the hash covers: the rev asked for, or
	// the current revision for rev 0.
	HashRevision int64
}

// StatusResponse is the response to Status: one member's state and its
// view of the cluster, with the fields of clientv3's StatusResponse
// (under etcd's names) and Keel's additions. Every field is the answering
// member's: the one Status's endpoint named.
type StatusResponse struct {
	// Header is the answering member's: Header.MemberId is its ID.
	Header *ResponseHeader
	// Version is the Keel version the member runs (ReleaseVersion).
	Version string
	// Leader is the numeric ID (Member.ID, as in ResponseHeader.MemberId)
	// of the member it believes leads, or 0 if it knows no leader, as
	// etcd reports it.
	Leader uint64
	// LeaderName is that leader's Name (its Config.ID), or "".
	LeaderName string
	// IsLeader reports whether the member leads.
	IsLeader bool
	// IsLearner reports whether the member is a non-voting learner.
	IsLearner bool
	// DbSize is the size of the member's key-value database in bytes, as
	// bbolt has allocated it (its high-water mark; the file may be
	// preallocated beyond it), as of its latest commit.
	DbSize int64
	// DbSizeInUse is the part of DbSize in use: DbSize minus bbolt's free
	// pages. Compaction lowers it; only defragmentation lowers DbSize.
	// The space quota applies to it.
	DbSizeInUse int64
	// DbSizeQuota is the member's space quota in bytes
	// (Config.QuotaBytes with its default applied), 0 if it has none.
	DbSizeQuota int64
	// Errors lists what is wrong, as etcd does: "no leader" when no leader
	// is known, every active alarm of the cluster (AlarmMember.String,
	// such as "memberID:42 alarm:NOSPACE") and a failure of the member's
	// storage (the member then stops).
	Errors []string
	// RaftTerm is the member's current raft term.
	RaftTerm uint64
	// RaftIndex is the index of the last entry the member knows to be
	// committed, as in etcd.
	RaftIndex uint64
	// RaftLastIndex is the index of the last entry in the member's log,
	// committed or not (Keel's; etcd has no such field).
	RaftLastIndex uint64
	// RaftAppliedIndex is the index of the last entry the member applied.
	RaftAppliedIndex uint64
	// CompactRevision is the revision up to which history was compacted.
	CompactRevision int64
}
