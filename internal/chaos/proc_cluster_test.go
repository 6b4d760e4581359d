package chaos_test

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/chaos"
)

// newCluster starts a 3-member cluster of child processes under a temp
// dir and waits for a leader.
func newCluster(t testing.TB, staleReads bool) (*chaos.Cluster, int) {
	t.Helper()
	if testing.Short() {
		t.Skip("process tier skipped with -short")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := chaos.NewCluster(ctx, chaos.ClusterConfig{Dir: t.TempDir(), Exe: exe, Args: memberArgs(), Seed: time.Now().UnixNano(), StaleReads: staleReads})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	l, err := c.WaitLeader(ctx, 20*time.Second)
	require.NoError(t, err)
	return c, l
}

func TestNewClusterInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  chaos.ClusterConfig
	}{
		{name: "no dir", cfg: chaos.ClusterConfig{Exe: "x"}},
		{name: "no exe", cfg: chaos.ClusterConfig{Dir: t.TempDir()}},
		{name: "negative size", cfg: chaos.ClusterConfig{Dir: t.TempDir(), Exe: "x", Members: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chaos.NewCluster(context.Background(), tc.cfg)
			require.ErrorIs(t, err, chaos.ErrInvalidArgument)
		})
	}
}

// TestClusterLifecycle kills, restarts, pauses and partitions members of a
// real cluster and checks what the harness reports for each.
func TestClusterLifecycle(t *testing.T) {
	c, l := newCluster(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	other := (l + 1) % c.Size()

	out, err := c.Executor(other).Exec(ctx, chaos.Input{Kind: chaos.OpPut, Key: "k", Value: "v1"})
	require.NoError(t, err)
	require.Positive(t, out.Revision)

	require.True(t, c.Kill(l), "first kill delivers SIGKILL")
	require.False(t, c.Kill(l), "a reaped member is never signalled again")
	require.False(t, c.Running(l))
	require.Zero(t, c.Pid(l))
	_, err = c.Status(ctx, l)
	require.ErrorIs(t, err, chaos.ErrMemberDown)
	_, err = c.Executor(l).Exec(ctx, chaos.Input{Kind: chaos.OpPut, Key: "k", Value: "v2"})
	require.Equal(t, chaos.Dropped, chaos.Classify(chaos.OpPut, err), "a write to a dead member was never sent: %v", err)

	nl, err := c.WaitLeader(ctx, 20*time.Second)
	require.NoError(t, err)
	require.NotEqual(t, l, nl, "a killed leader cannot lead")
	require.NoError(t, c.Start(ctx, l))
	require.ErrorIs(t, c.Start(ctx, l), chaos.ErrInvalidArgument, "a running member cannot be started twice")
	require.ErrorIs(t, c.Start(ctx, 7), chaos.ErrInvalidArgument)

	// The restarted member kept its data.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err = c.Executor(l).Exec(ctx, chaos.Input{Kind: chaos.OpGet, Key: "k"})
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "restarted member never served: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, chaos.Output{Found: true, Value: "v1", Revision: out.Revision}, out)

	require.True(t, c.Pause(other))
	require.True(t, c.Resume(other))

	rec := chaos.NewRecorder()
	counters := &chaos.FaultCounters{}
	nem := chaos.NewNemesis(c, rec, counters)
	require.NoError(t, nem.Inject(ctx, chaos.Fault{Kind: chaos.PartitionMinority, Duration: 700 * time.Millisecond, Targets: []int{other}}))
	require.Equal(t, 1, counters.Count(chaos.PartitionMinority), "heartbeats were dropped")
	require.NoError(t, nem.Inject(ctx, chaos.Fault{Kind: chaos.Pause, Duration: 200 * time.Millisecond, Targets: []int{other}}))
	require.Equal(t, 1, counters.Count(chaos.Pause))
	require.Len(t, rec.Faults(), 2)
	require.ErrorIs(t, nem.Inject(ctx, chaos.Fault{Kind: "bogus"}), chaos.ErrInvalidArgument)
	require.ErrorIs(t, nem.Inject(ctx, chaos.Fault{Kind: chaos.Pause, Targets: []int{9}}), chaos.ErrInvalidArgument)
	require.NoError(t, nem.HealAll(ctx))
	_, err = c.WaitLeader(ctx, 20*time.Second)
	require.NoError(t, err)
}

// TestChaosDetectsStaleReads proves the tier has teeth: members that serve
// reads locally (a deliberate bug) while one is partitioned away must
// produce a history porcupine rejects.
func TestChaosDetectsStaleReads(t *testing.T) {
	seed := chaos.Seed(t)
	c, _ := newCluster(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := chaos.NewRecorder()
	keys := []string{"a", "b"}
	var wg sync.WaitGroup
	for i := 0; i < 2*c.Size(); i++ {
		cl := chaos.NewExecClient(i, c.Executor(i%c.Size()), rec, rand.New(rand.NewSource(seed+int64(i))),
			chaos.WorkloadConfig{Keys: keys, Duration: 3 * time.Second, OpTimeout: 500 * time.Millisecond, Mix: chaos.Mix{Get: 60, Put: 40}})
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.Run(ctx)
		}()
	}
	time.Sleep(500 * time.Millisecond)
	nem := chaos.NewNemesis(c, rec, &chaos.FaultCounters{})
	require.NoError(t, nem.Inject(ctx, chaos.Fault{Kind: chaos.PartitionMinority, Duration: 2 * time.Second, Targets: []int{2}}))
	wg.Wait()
	ok, result, _, err := chaos.Check(rec.Operations(), time.Minute)
	require.False(t, ok, "stale reads went unnoticed (result %s)", result)
	require.True(t, errors.Is(err, chaos.ErrNotLinearizable), "%v", err)
}
