package keel

import "context"

// LeaseID identifies a lease. NoLease (0) means no lease.
type LeaseID int64

// NoLease is the zero LeaseID: no lease attached.
const NoLease LeaseID = 0

// MaxLeaseTTL is the largest TTL Grant accepts, in seconds (etcd's limit).
const MaxLeaseTTL = 9_000_000_000

// Lease is the lease API of a Keel member, as in etcd's clientv3.Lease.
// *Store implements it.
//
// A lease is granted with a TTL; keys put WithLease(id) live as long as it
// does. Its holder keeps it alive with KeepAlive or KeepAliveOnce; when it
// is revoked or expires, every attached key is deleted in one revision.
type Lease interface {
	// Grant creates a lease with a TTL in seconds (raised to the minimum).
	Grant(ctx context.Context, ttl int64) (*LeaseGrantResponse, error)
	// Revoke deletes the lease and every key attached to it.
	Revoke(ctx context.Context, id LeaseID) (*LeaseRevokeResponse, error)
	// TimeToLive returns the lease's remaining and granted TTL, and its
	// keys WithAttachedKeys.
	TimeToLive(ctx context.Context, id LeaseID, opts ...LeaseOption) (*LeaseTimeToLiveResponse, error)
	// Leases lists the IDs of every lease.
	Leases(ctx context.Context) (*LeaseLeasesResponse, error)
	// KeepAlive keeps the lease alive until ctx ends, sending a response
	// per renewal on the returned channel.
	KeepAlive(ctx context.Context, id LeaseID) (<-chan *LeaseKeepAliveResponse, error)
	// KeepAliveOnce renews the lease once.
	KeepAliveOnce(ctx context.Context, id LeaseID) (*LeaseKeepAliveResponse, error)
}

// LeaseGrantResponse is the response to Grant.
type LeaseGrantResponse struct {
	Header *ResponseHeader
	ID     LeaseID
	// TTL is the granted TTL in seconds, after raising it to the minimum.
	TTL int64
}

// LeaseRevokeResponse is the response to Revoke.
type LeaseRevokeResponse struct {
	Header *ResponseHeader
}

// LeaseKeepAliveResponse is the response to one renewal.
type LeaseKeepAliveResponse struct {
	Header *ResponseHeader
	ID     LeaseID
	// TTL is the TTL the lease was renewed to, in seconds.
	TTL int64
}

// LeaseTimeToLiveResponse is the response to TimeToLive.
type LeaseTimeToLiveResponse struct {
	Header *ResponseHeader
	ID     LeaseID
	// TTL is the remaining TTL in seconds; -1 if the lease does not exist.
	TTL int64
	// GrantedTTL is the TTL the lease was granted with.
	GrantedTTL int64
	// Keys are the attached keys, with WithAttachedKeys.
	Keys [][]byte
}

// LeaseStatus is one lease in a LeaseLeasesResponse.
type LeaseStatus struct {
	ID LeaseID
}

// LeaseLeasesResponse is the response to Leases.
type LeaseLeasesResponse struct {
	Header *ResponseHeader
	Leases []LeaseStatus
}

// LeaseOption configures TimeToLive.
type LeaseOption func(*leaseOptions)

type leaseOptions struct{ attachedKeys bool }

// WithAttachedKeys makes TimeToLive return the lease's keys.
func WithAttachedKeys() LeaseOption {
	return func(o *leaseOptions) { o.attachedKeys = true }
}
