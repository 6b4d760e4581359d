package keel

// header returns a response header for this member at revision rev.
func (s *Store) header(rev int64) ResponseHeader {
	return ResponseHeader{ClusterId: s.clusterID.Load(), MemberId: s.memberID.Load(), Revision: rev, RaftTerm: s.raft.CurrentTerm()}
}

// headerAt returns a new response header for this member at revision rev.
func (s *Store) headerAt(rev int64) *ResponseHeader {
	h := s.header(rev)
	return &h
}

// fillHeaders completes every header of r with this member's identity and
// term; the revision was set where the response was produced.
func (s *Store) fillHeaders(r OpResponse) {
	term := s.raft.CurrentTerm()
	forEachHeader(r, func(h *ResponseHeader) {
		h.ClusterId, h.MemberId, h.RaftTerm = s.clusterID.Load(), s.memberID.Load(), term
	})
}

// fillHeader completes a header with this member's identity and term.
func (s *Store) fillHeader(h *ResponseHeader) {
	h.ClusterId, h.MemberId, h.RaftTerm = s.clusterID.Load(), s.memberID.Load(), s.raft.CurrentTerm()
}

// headerPtr returns a header for this member at its current revision.
func (s *Store) headerPtr() *ResponseHeader { return s.headerAt(s.kv.Rev()) }

// watchHeader returns a header for this member at revision rev for a
// watch response. Watchers notified of the same revision share one header
// (the last one made, while it still matches), as they share the events:
// with many watchers that saves an allocation per response each.
func (s *Store) watchHeader(rev int64) *ResponseHeader {
	want := s.header(rev)
	if h := s.watchHdr.Load(); h != nil && *h == want {
		return h
	}
	h := new(ResponseHeader) // not &want: that would move want to the heap on every call
	*h = want
	s.watchHdr.Store(h)
	return h
}
