package keel

import (
	"context"
	"io"
)

// Compact discards the history before revision rev on every member,
// through raft. Afterwards reads and watches below rev fail with
// ErrCompacted; reading at rev still works, and the revision does not
// change. rev at or below the current compacted revision fails with
// ErrCompacted, rev above the current revision with ErrFutureRev. The
// removal from disk runs in the background in bounded batches;
// WithCompactPhysical waits for it (on the leader).
func (s *Store) Compact(ctx context.Context, rev int64, opts ...CompactOption) (_ *CompactResponse, err error) {
	defer s.met.request(kindCompact, s.met.now(), &err)
	o := OpCompact(rev, opts...)
	res, err := s.propose(ctx, encodeCompactCommand(o.revision, o.physical))
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	if o.physical {
		if err := waitPhysical(ctx, res, s.stop); err != nil {
			return nil, err
		}
	}
	resp := res.compact
	s.fillHeader(resp.Header)
	return resp, nil
}

// HashKV hashes this member's state, for checking that members agree
// (etcd's HashKV, over the whole history). It reads local state without a
// round trip; compare members at equal header revisions.
func (s *Store) HashKV(ctx context.Context) (*HashKVResponse, error) {
	if s.stopped() {
		return nil, s.errStopped()
	}
	h, rev, err := s.kv.Hash()
	if err != nil {
		return nil, err
	}
	hdr := s.header(rev)
	return &HashKVResponse{Header: &hdr, Hash: h, CompactRevision: s.kv.CompactRev()}, nil
}

// Snapshot writes a consistent backup of this member's key-value database
// (a bbolt file) to w and returns its size. It reflects everything this
// member had applied when Snapshot was called.
func (s *Store) Snapshot(ctx context.Context, w io.Writer) (int64, error) {
	if s.stopped() {
		return 0, s.errStopped()
	}
	sn, err := s.kv.Snapshot()
	if err != nil {
		return 0, err
	}
	defer sn.Close()
	return sn.WriteTo(w)
}
