package keel

import "context"

// LeaseID identifies a lease. NoLease (0) means no lease.
type LeaseID int64

// NoLease is the zero LeaseID: no lease attached.
const NoLease LeaseID = 0

// MaxLeaseTTL is the largest TTL Grant accepts, in seconds (etcd's limit).
const MaxLeaseTTL = 9_000_000_000

// Lease is the lease API of a Keel member, as in etcd's clientv3.Lease.
// *Store implements it, and NewLease returns a handle whose Close stops
// only the keepalives started through it.
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
	// Close stops the keepalives: for a handle from NewLease, those started
	// through it (their channels are closed when Close returns; the leases
	// themselves live on until they expire); for a *Store, everything, as
	// the Store itself closes (as clientv3's Client.Close does).
	Close() error
}

// The lease responses have clientv3's shapes: the header is embedded (so
// grant.Revision and grant.MemberId read its fields), except in
// LeaseRevokeResponse, which names it Header as clientv3's does.

// LeaseGrantResponse is the response to Grant.
type LeaseGrantResponse struct {
	*ResponseHeader
	ID LeaseID
	// TTL is the granted TTL in seconds, after raising it to the minimum.
	TTL int64
	// Error is always empty: Grant reports failures as its error. It is
	// here because clientv3's response has it (etcd never sets it either).
	Error string
}

// LeaseRevokeResponse is the response to Revoke.
type LeaseRevokeResponse struct {
	Header *ResponseHeader
}

// LeaseKeepAliveResponse is the response to one renewal.
type LeaseKeepAliveResponse struct {
	*ResponseHeader
	ID LeaseID
	// TTL is the TTL the lease was renewed to, in seconds.
	TTL int64
}

// LeaseTimeToLiveResponse is the response to TimeToLive. Its JSON field
// names are clientv3's.
type LeaseTimeToLiveResponse struct {
	*ResponseHeader
	ID LeaseID `json:"id"`
	// TTL is the remaining TTL in seconds; -1 if the lease does not exist.
	TTL int64 `json:"ttl"`
	// GrantedTTL is the TTL the lease was granted with.
	GrantedTTL int64 `json:"granted-ttl"`
	// Keys are the attached keys, with WithAttachedKeys.
	Keys [][]byte `json:"keys"`
}

// LeaseStatus is one lease in a LeaseLeasesResponse.
type LeaseStatus struct {
	ID LeaseID `json:"id"`
}

// LeaseLeasesResponse is the response to Leases.
type LeaseLeasesResponse struct {
	*ResponseHeader
	Leases []LeaseStatus `json:"leases"`
}

// LeaseOp holds the options of a TimeToLive call, as clientv3's LeaseOp
// does; LeaseOption functions set them.
type LeaseOp struct{ attachedKeys bool }

// LeaseOption configures TimeToLive.
type LeaseOption func(*LeaseOp)

// WithAttachedKeys makes TimeToLive return the lease's keys.
func WithAttachedKeys() LeaseOption {
	return func(o *LeaseOp) { o.attachedKeys = true }
}
