package keel

// CompactResponse is the response to Compact.
type CompactResponse struct {
	Header *ResponseHeader
}

// CompactOption configures Compact.
type CompactOption func(*compactOptions)

type compactOptions struct{ physical bool }

// WithCompactPhysical makes Compact return only once the compacted
// revisions have been removed from the leader's database, not just hidden.
func WithCompactPhysical() CompactOption {
	return func(o *compactOptions) { o.physical = true }
}

// HashKVResponse is the response to HashKV.
type HashKVResponse struct {
	Header *ResponseHeader
	// Hash is a CRC-32C over every key revision still in history, the
	// lease table and the compacted revision, in revision order. Members
	// that applied the same entries report the same hash.
	Hash uint32
	// CompactRevision is the revision history was compacted to.
	CompactRevision int64
}
