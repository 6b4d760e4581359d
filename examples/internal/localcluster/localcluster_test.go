package localcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/keeldb/keel/examples/internal/localcluster"
	"github.com/stretchr/testify/require"
)

// TestStopRestart walks the life examples/cluster relies on: a leader
// stops, the others elect another, and the stopped member restarts on its
// Dir and address with its data.
func TestStopRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := localcluster.Start(3)
	require.NoError(t, err)
	defer c.Close()

	leader, err := c.WaitLeader(ctx)
	require.NoError(t, err)
	id := c.Members[leader].ID()
	put, err := c.Members[leader].Put(ctx, "k", "v")
	require.NoError(t, err)

	require.NoError(t, c.Stop(leader))
	require.Nil(t, c.Members[leader])
	next, err := c.WaitLeader(ctx)
	require.NoError(t, err)
	require.NotEqual(t, leader, next)

	require.NoError(t, c.Restart(ctx, leader))
	require.Equal(t, id, c.Members[leader].ID())
	gr, err := c.Members[leader].Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, put.Header.Revision, gr.Kvs[0].ModRevision)

	require.NoError(t, c.Close())
	done, stop := context.WithCancel(t.Context())
	stop()
	_, err = c.WaitLeader(done)
	require.ErrorIs(t, err, context.Canceled, "no member runs after Close")
}

// TestJoinLeave walks the life examples/membership relies on: a member
// joins through the running ones, and a first member leaves.
func TestJoinLeave(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := localcluster.Start(3)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Members[0].Put(ctx, "k", "v")
	require.NoError(t, err)

	j, err := c.Join(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, j)
	joined := c.Members[j]
	require.Equal(t, "m4", joined.ID())
	gr, err := joined.Get(ctx, "k")
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 1, "a joined member serves what was written before")

	require.NoError(t, c.Leave(ctx, 0))
	require.Nil(t, c.Members[0])
	ml, err := joined.MemberList(ctx)
	require.NoError(t, err)
	var names []string
	for _, m := range ml.Members {
		names = append(names, m.Name)
	}
	require.ElementsMatch(t, []string{"m2", "m3", "m4"}, names)
	require.Error(t, c.Leave(ctx, 0), "m1 is not running")
	require.NoError(t, c.Close())
}
