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
