package keel

import (
	"errors"

	"github.com/keeldb/keel/mvcc"
)

// applyLeaseGrant records a lease granted by the leader at raft index idx.
// The ID and TTL were chosen before proposing, so every member records the
// same lease.
func applyLeaseGrant(kv *mvcc.Store, idx uint64, id LeaseID, ttl int64) *applyResult {
	tw := kv.Write(idx)
	err := tw.GrantLease(int64(id), ttl)
	tw.End()
	if err != nil {
		return &applyResult{err: mapLeaseErr(err)}
	}
	return &applyResult{grant: &LeaseGrantResponse{ResponseHeader: &ResponseHeader{Revision: kv.Rev()}, ID: id, TTL: ttl}}
}

// applyLeaseRevoke deletes a lease and, in one revision and sorted key
// order, every key attached to it.
func applyLeaseRevoke(kv *mvcc.Store, idx uint64, id LeaseID) *applyResult {
	tw := kv.Write(idx)
	_, err := tw.RevokeLease(int64(id))
	tw.End()
	if err != nil {
		return &applyResult{err: mapLeaseErr(err)}
	}
	return &applyResult{revoke: &LeaseRevokeResponse{Header: &ResponseHeader{Revision: kv.Rev()}}}
}

// applyLeaseCheckpoint records remaining TTLs; leases revoked meanwhile
// are skipped (the same way on every member).
func applyLeaseCheckpoint(kv *mvcc.Store, idx uint64, cps []leaseCheckpoint) *applyResult {
	tw := kv.Write(idx)
	for _, cp := range cps {
		if err := tw.CheckpointLease(int64(cp.id), cp.remaining); err != nil && !errors.Is(err, mvcc.ErrLeaseNotFound) {
			tw.End()
			return &applyResult{err: err}
		}
	}
	tw.End()
	return &applyResult{}
}

func mapLeaseErr(err error) error {
	switch {
	case errors.Is(err, mvcc.ErrLeaseNotFound):
		return ErrLeaseNotFound
	case errors.Is(err, mvcc.ErrLeaseExists):
		return ErrLeaseExists
	}
	return err
}
