package chaos

import (
	"context"
	"time"

	"github.com/keeldb/keel"
)

// leaseCall decodes a LeaseRequest and bounds ctx by its timeout.
func leaseCall(ctx context.Context, body []byte) (LeaseRequest, context.Context, context.CancelFunc, error) {
	req, err := decode[LeaseRequest](body)
	if err != nil {
		return req, ctx, func() {}, err
	}
	if req.TimeoutMS <= 0 {
		req.TimeoutMS = 1000
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(req.TimeoutMS)*time.Millisecond)
	return req, ctx, cancel, nil
}

func (m *memberServer) leaseGrant(ctx context.Context, body []byte) (any, error) {
	req, ctx, cancel, err := leaseCall(ctx, body)
	defer cancel()
	if err != nil {
		return nil, err
	}
	r, err := m.s.Grant(ctx, req.TTL)
	if err != nil {
		return nil, err
	}
	return LeaseResponse{ID: int64(r.ID), TTL: r.TTL}, nil
}

func (m *memberServer) leasePut(ctx context.Context, body []byte) (any, error) {
	req, ctx, cancel, err := leaseCall(ctx, body)
	defer cancel()
	if err != nil {
		return nil, err
	}
	if _, err := m.s.Put(ctx, req.Key, req.Value, keel.WithLease(keel.LeaseID(req.ID))); err != nil {
		return nil, err
	}
	return LeaseResponse{ID: req.ID}, nil
}

func (m *memberServer) leaseRenew(ctx context.Context, body []byte) (any, error) {
	req, ctx, cancel, err := leaseCall(ctx, body)
	defer cancel()
	if err != nil {
		return nil, err
	}
	r, err := m.s.KeepAliveOnce(ctx, keel.LeaseID(req.ID))
	if err != nil {
		return nil, err
	}
	return LeaseResponse{ID: int64(r.ID), TTL: r.TTL}, nil
}
