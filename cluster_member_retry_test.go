package keel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/keeltest"
)

// MemberRemove of the leader, called on a follower, succeeds: the leader
// hands leadership away and the caller retries with the new leader
// directly. (Relayed by the old leader, the reply was lost when the old
// leader stopped on its removal, and the caller's retry then found the
// member gone: ErrMemberNotFound. The chaos suite's membership changes
// found it.)
func TestMemberRemoveLeaderThroughFollower(t *testing.T) {
	for i := range 5 {
		c := keeltest.NewCluster(t, 3)
		l, f := c.Leader(), c.Follower()
		_, err := f.MemberRemove(t.Context(), l.MemberID())
		require.NoError(t, err, "cluster %d: %s removes the leader %s", i, f.ID(), l.ID())
		for _, m := range memberList(t, c.Leader()) {
			require.NotEqual(t, l.ID(), m.Name, "cluster %d: the removed leader is still listed", i)
		}
	}
}
