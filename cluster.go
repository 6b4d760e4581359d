package keel

// Member describes one member of the cluster.
type Member struct {
	// ID is the member's stable ID (Config.ID).
	ID string
	// Addr is the address other members dial.
	Addr string
	// IsLearner reports a non-voting member.
	IsLearner bool
}

// Status describes this member's view of the cluster.
type Status struct {
	Header *ResponseHeader
	// Leader is the ID of the current leader, or "" if none is known.
	Leader string
	// IsLeader reports whether this member leads.
	IsLeader bool
	// RaftIndex is the index of the last entry in this member's log.
	RaftIndex uint64
	// RaftAppliedIndex is the index of the last entry applied to the store.
	RaftAppliedIndex uint64
	// CompactRevision is the revision up to which history was compacted.
	CompactRevision int64
}
