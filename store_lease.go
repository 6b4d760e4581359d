package keel

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/keeldb/keel/internal/wire"
)

var _ Lease = (*Store)(nil)

// Grant creates a lease with a TTL in seconds. The TTL is raised to the
// cluster's minimum (see MinLeaseTTL); above MaxLeaseTTL it fails with
// ErrLeaseTTLTooLarge. The ID is chosen before proposing, so every member
// records the same lease.
func (s *Store) Grant(ctx context.Context, ttl int64) (_ *LeaseGrantResponse, err error) {
	defer s.met.request(kindLeaseGrant, s.met.start(), &err)
	if ttl > MaxLeaseTTL {
		return nil, ErrLeaseTTLTooLarge
	}
	ttl = max(ttl, s.minLeaseTTL())
	if err := s.admitWrite(leaseGrantCost); err != nil {
		return nil, err
	}
	for {
		id, err := newLeaseID()
		if err != nil {
			return nil, err
		}
		res, err := s.propose(ctx, encodeLeaseGrantCommand(id, ttl))
		if err != nil {
			return nil, err
		}
		if errors.Is(res.err, ErrLeaseExists) {
			continue // an ID collision: pick another
		}
		if res.err != nil {
			return nil, res.err
		}
		s.fillHeader(res.grant.ResponseHeader)
		return res.grant, nil
	}
}

// MinLeaseTTL returns the smallest TTL, in seconds, that Grant gives: 1
// while this cluster has a single voter, otherwise enough to ride out a
// leader failover (5 with the default timeouts).
func (s *Store) MinLeaseTTL() int64 { return s.minLeaseTTL() }

// Revoke deletes the lease and every key attached to it, in one revision.
func (s *Store) Revoke(ctx context.Context, id LeaseID) (_ *LeaseRevokeResponse, err error) {
	defer s.met.request(kindLeaseRevoke, s.met.start(), &err)
	res, err := s.propose(ctx, encodeLeaseRevokeCommand(id))
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	s.fillHeader(res.revoke.Header)
	return res.revoke, nil
}

// KeepAliveOnce renews the lease once, to its full TTL. It fails with
// ErrLeaseNotFound if the lease does not exist or has already expired.
func (s *Store) KeepAliveOnce(ctx context.Context, id LeaseID) (_ *LeaseKeepAliveResponse, err error) {
	defer s.met.request(kindLeaseKeepAlive, s.met.start(), &err)
	req := binary.AppendVarint([]byte{msgLeaseRenew}, int64(id))
	reply, err := s.callLeader(ctx, req, func(ctx context.Context) ([]byte, error) {
		return s.serveLeaseRenew(ctx, id), nil
	})
	if err != nil {
		return nil, err
	}
	d := wire.NewDecoder(reply, ErrCorruptCommand)
	if code := d.Byte(); code != 0 {
		err := decodeError(d, code)
		return nil, errors.Join(err, d.Finish())
	}
	ttl := d.Varint()
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return &LeaseKeepAliveResponse{ResponseHeader: s.headerPtr(), ID: id, TTL: ttl}, nil
}

// KeepAlive keeps the lease alive until ctx ends: it renews it every third
// of its TTL (retrying sooner after a failure) and sends one response per
// renewal on the returned channel. The first renewal happens before
// KeepAlive returns; its failure is returned. The channel is closed when
// ctx ends, the Store closes, or the lease is gone (revoked or expired),
// and, with a ctx from WithRequireLeader, when this member has lost its
// leader (see WithRequireLeader). Responses the consumer does not read in
// time are dropped, as in clientv3.
func (s *Store) KeepAlive(ctx context.Context, id LeaseID) (<-chan *LeaseKeepAliveResponse, error) {
	return s.keepAlive(ctx, id, nil)
}

// keepAlive is KeepAlive; onExit, if not nil, runs once the channel is
// closed, or before keepAlive returns an error.
func (s *Store) keepAlive(ctx context.Context, id LeaseID, onExit func()) (<-chan *LeaseKeepAliveResponse, error) {
	exit := func() {
		if onExit != nil {
			onExit()
		}
	}
	first, err := s.KeepAliveOnce(ctx, id)
	if err != nil {
		exit()
		return nil, err
	}
	var remove func()
	if requiresLeader(ctx) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		unregister := s.noLeader.add(cancel)
		remove = func() { unregister(); cancel() }
	}
	ch := make(chan *LeaseKeepAliveResponse, 16)
	ch <- first
	s.wg.Go(func() {
		s.keepAliveLoop(ctx, id, first.TTL, ch)
		if remove != nil {
			remove()
		}
		exit()
	})
	return ch, nil
}

// TimeToLive returns the lease's remaining TTL (as the leader sees it) and
// granted TTL; WithAttachedKeys adds its keys. A lease that does not exist
// has TTL -1.
func (s *Store) TimeToLive(ctx context.Context, id LeaseID, opts ...LeaseOption) (_ *LeaseTimeToLiveResponse, err error) {
	defer s.met.request(kindLeaseTimeToLive, s.met.start(), &err)
	var o LeaseOp
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	req := binary.AppendVarint([]byte{msgLeaseTTL}, int64(id))
	if o.attachedKeys {
		req = append(req, 1)
	} else {
		req = append(req, 0)
	}
	reply, err := s.callLeader(ctx, req, func(ctx context.Context) ([]byte, error) {
		return s.serveLeaseTTL(ctx, id, o.attachedKeys), nil
	})
	if err != nil {
		return nil, err
	}
	d := wire.NewDecoder(reply, ErrCorruptCommand)
	if code := d.Byte(); code != 0 {
		err := decodeError(d, code)
		return nil, errors.Join(err, d.Finish())
	}
	resp := &LeaseTimeToLiveResponse{ResponseHeader: s.headerPtr(), ID: id, TTL: d.Varint(), GrantedTTL: d.Varint()}
	n := d.Count(1)
	for i := 0; i < n && d.Err() == nil; i++ {
		resp.Keys = append(resp.Keys, d.Bytes())
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return resp, nil
}

// Leases lists every lease (linearizable).
func (s *Store) Leases(ctx context.Context) (_ *LeaseLeasesResponse, err error) {
	defer s.met.request(kindLeaseLeases, s.met.start(), &err)
	var out []LeaseStatus
	_, err = s.read(ctx, false, func() (OpResponse, error) {
		for _, r := range s.kv.Leases() {
			out = append(out, LeaseStatus{ID: LeaseID(r.ID)})
		}
		return OpResponse{}, nil
	})
	if err != nil {
		return nil, err
	}
	return &LeaseLeasesResponse{ResponseHeader: s.headerPtr(), Leases: out}, nil
}
