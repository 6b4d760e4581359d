package chaos

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/keeldb/keel"
)

// LeaseChecker checks lease safety with the harness's monotonic clock only
// (reliability.md §3.5). All times are Recorder times (nanoseconds since
// its base). The harness reports, per lease:
//
//   - Granted: the call time of the Grant (a lower bound of when the TTL
//     started) and the TTL;
//   - KeepaliveAcked: the send time of every keepalive that was acknowledged;
//   - Revoked: the call time of a Revoke;
//   - HolderDied: when the holder stopped sending keepalives (killed, or
//     keepalives stopped); no keepalive may be sent after it;
//   - Deleted: the time the lease's key was first observed deleted (by a
//     linearizable read or a watch event).
//
// Violations: a key observed deleted before lastAckedKeepaliveSend + TTL
// while no revoke was issued (premature expiry), and, for a dead holder, a
// key not observed deleted by death + TTL + allowance (late expiry). Leases
// living longer than their TTL while kept alive are fine.
//
// It is safe for concurrent use.
type LeaseChecker struct {
	mu     sync.Mutex
	leases map[keel.LeaseID]*leaseTrack
}

type leaseTrack struct {
	ttl       time.Duration
	lastAcked int64
	revokedAt int64 // 0 = never
	diedAt    int64 // 0 = alive
	deletedAt int64 // 0 = not observed
}

// NewLeaseChecker returns an empty LeaseChecker.
func NewLeaseChecker() *LeaseChecker {
	return &LeaseChecker{leases: map[keel.LeaseID]*leaseTrack{}}
}

func (c *LeaseChecker) track(id keel.LeaseID) *leaseTrack {
	t := c.leases[id]
	if t == nil {
		t = &leaseTrack{}
		c.leases[id] = t
	}
	return t
}

// Granted records a grant called at at with the granted ttl.
func (c *LeaseChecker) Granted(id keel.LeaseID, ttl time.Duration, at int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.track(id)
	t.ttl = ttl
	t.lastAcked = max(t.lastAcked, at)
}

// KeepaliveAcked records that a keepalive sent at sentAt was acknowledged.
func (c *LeaseChecker) KeepaliveAcked(id keel.LeaseID, sentAt int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.track(id)
	t.lastAcked = max(t.lastAcked, sentAt)
}

// Revoked records a revoke issued at at (whatever its outcome).
func (c *LeaseChecker) Revoked(id keel.LeaseID, at int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.track(id); t.revokedAt == 0 || at < t.revokedAt {
		t.revokedAt = at
	}
}

// HolderDied records that the holder stopped keeping the lease alive at at.
func (c *LeaseChecker) HolderDied(id keel.LeaseID, at int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.track(id); t.diedAt == 0 {
		t.diedAt = at
	}
}

// Deleted records that the lease's key was observed deleted at at. Only
// the first observation counts.
func (c *LeaseChecker) Deleted(id keel.LeaseID, at int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.track(id); t.deletedAt == 0 || at < t.deletedAt {
		t.deletedAt = at
	}
}

// Check returns an error wrapping ErrLeaseViolation listing every
// violation, judged at time now (a Recorder time) with allowance the
// documented failover bound added to the TTL for expiry after holder death.
func (c *LeaseChecker) Check(now int64, allowance time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]keel.LeaseID, 0, len(c.leases))
	for id := range c.leases {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var bad []string
	for _, id := range ids {
		t := c.leases[id]
		revokedBefore := t.revokedAt != 0 && (t.deletedAt == 0 || t.revokedAt <= t.deletedAt)
		if t.deletedAt != 0 && !revokedBefore && t.deletedAt < t.lastAcked+int64(t.ttl) {
			bad = append(bad, fmt.Sprintf("lease %x: key deleted at %v, before last acked keepalive %v + TTL %v",
				int64(id), time.Duration(t.deletedAt), time.Duration(t.lastAcked), t.ttl))
		}
		if t.diedAt != 0 && !revokedBefore {
			deadline := t.diedAt + int64(t.ttl+allowance)
			if (t.deletedAt == 0 && now > deadline) || t.deletedAt > deadline {
				seen := "never observed deleted"
				if t.deletedAt != 0 {
					seen = fmt.Sprintf("observed deleted at %v", time.Duration(t.deletedAt))
				}
				bad = append(bad, fmt.Sprintf("lease %x: holder died at %v, TTL %v + allowance %v, %s",
					int64(id), time.Duration(t.diedAt), t.ttl, allowance, seen))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %v", ErrLeaseViolation, bad)
	}
	return nil
}
