package keel

import "context"

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

// HashKV hashes this member's state, for checking that members agree
// (etcd's HashKV, over the whole history). It reads local state without a
// round trip; compare members at equal header revisions.
func (s *Store) HashKV(ctx context.Context) (*HashKVResponse, error) {
	if s.stopped() {
		return nil, ErrStopped
	}
	h, rev, err := s.kv.Hash()
	if err != nil {
		return nil, err
	}
	hdr := s.header(rev)
	return &HashKVResponse{Header: &hdr, Hash: h, CompactRevision: s.kv.CompactRev()}, nil
}
