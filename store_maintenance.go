package keel

import (
	"context"
	"fmt"
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
	defer s.met.request(kindCompact, s.met.start(), &err)
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

// HashKV hashes this member's key history up to revision rev (0: its
// current revision), as etcd's HashKV does, for checking that members
// agree: members that applied the same history report the same Hash at
// the same HashRevision and CompactRevision. Leases are not hashed (they
// carry no revision). It reads local state without a round trip, so rev
// must be one this member has applied. rev below the compaction revision
// fails with ErrCompacted, rev above the current revision with
// ErrFutureRev.
func (s *Store) HashKV(ctx context.Context, rev int64) (*HashKVResponse, error) {
	if s.stopped() {
		return nil, s.errStopped()
	}
	if rev < 0 {
		return nil, fmt.Errorf("%w: negative revision %d", ErrInvalidOption, rev)
	}
	h, err := s.kv.HashKV(rev)
	if err != nil {
		return nil, err
	}
	hdr := s.header(h.CurrentRevision)
	return &HashKVResponse{Header: &hdr, Hash: h.Hash, CompactRevision: h.CompactRevision, HashRevision: h.Revision}, nil
}

// Snapshot writes a backup of this member's key-value database to w and
// returns the number of bytes written. The backup reflects everything this
// member had applied when Snapshot was called; writes go on meanwhile.
// It is a header (format version, revision, compaction revision, size), the
// bbolt database, and a SHA-256 trailer: see the package documentation,
// "Backup and restore", and RestoreMember, which starts a new cluster
// from it. Snapshot stops with ctx's error if ctx ends while it writes.
func (s *Store) Snapshot(ctx context.Context, w io.Writer) (int64, error) {
	if s.stopped() {
		return 0, s.errStopped()
	}
	sn, err := s.kv.Snapshot()
	if err != nil {
		return 0, err
	}
	defer sn.Close()
	return sn.WriteBackup(ctxWriter{ctx: ctx, w: w})
}
