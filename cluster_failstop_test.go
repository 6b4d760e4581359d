package keel_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/keeltest"
)

// TestUnreadableLogStopsMember makes a member's raft log unreadable while
// that member holds committed entries it has not applied yet: raft panics
// when it cannot read an entry it is to apply, which would take the whole
// process down. The member must stop instead (ErrStopped), the other two
// must carry on, and the member, restarted on a readable disk, must catch
// up with every write.
func TestUnreadableLogStopsMember(t *testing.T) {
	fsys := faultfs.New()
	c := keeltest.NewCluster(t, 3, keeltest.WithConfig(func(i int, cfg *keel.Config) {
		if i == 2 {
			cfg.WALFS, cfg.WALSegmentSize = fsys, 1<<20
		}
	}))
	ctx := t.Context()
	const n = 20
	for i := range n {
		_, err := c.Leader().Put(ctx, fmt.Sprintf("k%02d", i), "v")
		require.NoError(t, err)
	}
	converge(t, c)

	// Member 2 falls behind, so that it cannot lead (as a leader it would
	// first fail to replicate from its log, which raft survives). It then
	// reopens its log alone: raft learns which of its entries are
	// committed only from a leader, so it applies none of them yet.
	c.Stop(2)
	_, err := c.Leader().Put(ctx, "gap", "v")
	require.NoError(t, err)
	c.Stop(0)
	c.Stop(1)
	c.Restart(2)
	fsys.Inject(faultfs.Fault{Op: faultfs.OpRead, Pattern: "*.seg", Err: syscall.EIO})
	c.Restart(0)
	c.Restart(1)

	require.Eventually(t, func() bool {
		return c.Member(2).Err() != nil
	}, keeltest.WaitLimit, 10*time.Millisecond, "member 2 kept running on a log it cannot read")
	require.ErrorIs(t, c.Member(2).Err(), keel.ErrStopped)
	_, err = c.Member(2).Get(ctx, "k00", keel.WithSerializable())
	require.ErrorIs(t, err, keel.ErrStopped)

	// The other two carry on without it.
	require.Eventually(t, func() bool {
		for _, i := range []int{0, 1} {
			short, cancel := context.WithTimeout(ctx, time.Second)
			_, err := c.Member(i).Put(short, "after", "v")
			cancel()
			if err == nil {
				return true
			}
		}
		return false
	}, keeltest.WaitLimit, 10*time.Millisecond, "members 0 and 1 did not accept a write")

	fsys.ClearFaults()
	c.Restart(2)
	require.Eventually(t, func() bool {
		gr, err := c.Member(2).Get(ctx, "", keel.WithPrefix(), keel.WithSerializable())
		return err == nil && gr.Count == n+2
	}, keeltest.WaitLimit, 10*time.Millisecond, "member 2 did not catch up after its restart")
}
