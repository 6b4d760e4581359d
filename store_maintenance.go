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

// HashKV hashes the key history of the member endpoint names up to
// revision rev (0: its current revision), as clientv3's
// Maintenance.HashKV does for an etcd endpoint, for checking that members
// agree: members that applied the same history report the same Hash at
// the same HashRevision and CompactRevision. Leases are not hashed (they
// carry no revision). endpoint "" is this member, which answers without
// a round trip; otherwise it is another member's Name, address or ID
// (see Endpoints in the package documentation), asked over the member
// port, and the hash and Header are that member's. The member hashes what
// it has applied, so rev must be a revision it has reached: rev below its
// compaction revision fails with ErrCompacted, rev above its current
// revision with ErrFutureRev. An endpoint that names no member fails with
// ErrMemberNotFound.
func (s *Store) HashKV(ctx context.Context, endpoint string, rev int64) (*HashKVResponse, error) {
	if rev < 0 {
		return nil, fmt.Errorf("%w: negative revision %d", ErrInvalidOption, rev)
	}
	return onMember(ctx, s, endpoint, memberRequest{kind: msgHashKV, rev: rev},
		func(context.Context) (*HashKVResponse, error) { return s.localHashKV(rev) }, decodeHashKV)
}

// localHashKV is this member's HashKV.
func (s *Store) localHashKV(rev int64) (*HashKVResponse, error) {
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

// Snapshot returns a reader of a backup of this member's key-value
// database, as clientv3's Maintenance.Snapshot returns one of the etcd
// server's. The backup reflects everything this member had applied when
// Snapshot was called; writes go on meanwhile. It is a header (format
// version, revision, compaction revision, size), the bbolt database, and
// a SHA-256 trailer: see the package documentation, "Backup and restore",
// and RestoreMember, which starts a new cluster from it.
//
// The backup is produced as it is read: the caller must Close the reader,
// which it may do before the end. Until then the snapshot holds a read
// transaction on the database, which keeps the pages it reads from being
// reused (the file grows if writes go on). Read returns io.EOF after the
// trailer, or the error that stopped the backup: ctx's error once ctx
// ends, ErrStopped once the Store closes (Close does not wait for the
// reader), or a failure reading the database.
func (s *Store) Snapshot(ctx context.Context) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keel: snapshot: %w", err)
	}
	if s.stopped() {
		return nil, s.errStopped()
	}
	sn, err := s.kv.Snapshot()
	if err != nil {
		if s.stopped() {
			return nil, s.errStopped()
		}
		return nil, fmt.Errorf("keel: snapshot: %w", err)
	}
	pr, pw := io.Pipe()
	started := s.goRequest(func() {
		defer sn.Close()
		stopCtx := context.AfterFunc(ctx, func() { pw.CloseWithError(fmt.Errorf("keel: snapshot: %w", ctx.Err())) })
		defer stopCtx()
		stopClose := context.AfterFunc(s.stopCtx, func() { pw.CloseWithError(fmt.Errorf("keel: snapshot: %w", s.errStopped())) })
		defer stopClose()
		_, err := sn.WriteBackup(pw)
		pw.CloseWithError(err) // nil: the reader gets io.EOF
	})
	if !started {
		_ = sn.Close()
		return nil, s.errStopped()
	}
	return pr, nil
}
