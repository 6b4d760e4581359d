package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
)

func TestLeaseChecker(t *testing.T) {
	const s = int64(time.Second)
	ttl := 2 * time.Second
	allowance := 3 * time.Second
	cases := []struct {
		name  string
		build func(c *LeaseChecker)
		now   int64
		bad   bool
	}{
		{"kept alive, not deleted", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.KeepaliveAcked(1, 1*s)
			c.KeepaliveAcked(1, 2*s)
		}, 10 * s, false},
		{"deleted before last keepalive + ttl", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.KeepaliveAcked(1, 3*s)
			c.Deleted(1, 4*s)
		}, 10 * s, true},
		{"deleted before grant + ttl", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.Deleted(1, 1*s)
		}, 10 * s, true},
		{"revoked then deleted early", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.KeepaliveAcked(1, 3*s)
			c.Revoked(1, 3*s+1)
			c.Deleted(1, 4*s)
		}, 10 * s, false},
		{"revoke issued after the deletion does not excuse it", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.KeepaliveAcked(1, 3*s)
			c.Deleted(1, 4*s)
			c.Revoked(1, 4*s+1)
		}, 10 * s, true},
		{"living longer than ttl is fine", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.KeepaliveAcked(1, 1*s)
			c.Deleted(1, 9*s)
		}, 10 * s, false},
		{"holder died, expired in bound", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.KeepaliveAcked(1, 1*s)
			c.HolderDied(1, 2*s)
			c.Deleted(1, 5*s)
		}, 20 * s, false},
		{"holder died, expired too late", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.HolderDied(1, 2*s)
			c.Deleted(1, 8*s)
		}, 20 * s, true},
		{"holder died, never expired", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.HolderDied(1, 2*s)
		}, 20 * s, true},
		{"holder died, still within bound", func(c *LeaseChecker) {
			c.Granted(1, ttl, 0)
			c.HolderDied(1, 2*s)
		}, 5 * s, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewLeaseChecker()
			tc.build(c)
			c.Granted(keel.LeaseID(99), ttl, 0) // an unrelated healthy lease
			err := c.Check(tc.now, allowance)
			if tc.bad {
				require.ErrorIs(t, err, ErrLeaseViolation)
			} else {
				require.NoError(t, err)
			}
		})
	}
}
