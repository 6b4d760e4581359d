package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/chaos"
)

// runConfig shapes one process-tier run.
type runConfig struct {
	// kinds restricts the schedule (nil = every process-tier kind).
	kinds []chaos.FaultKind
	// faults caps the number of faults.
	faults int
	// floor is the minimum of completed operations.
	floor int
}

// memberArgs re-executes this test binary as a member.
func memberArgs() []string {
	return []string{"-test.run=^TestChaosMemberProcess$", "-test.timeout=0"}
}

// TestChaosProcess is the process tier: each run starts three member
// processes behind loopback proxies, runs a recorded workload while a
// seeded schedule kills, pauses, restarts and partitions them, heals, and
// checks linearizability, acknowledged writes, watches, state hashes, lock
// fencing, the op floor and that every fault happened. KEEL_CHAOS=30m
// soaks; KEEL_CHAOS_SEED replays.
func TestChaosProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("process tier skipped with -short")
	}
	budget, soak, err := chaos.Budget(6 * time.Minute)
	require.NoError(t, err)
	runs := 10
	if soak {
		runs = 0
	}
	base := chaos.Seed(t)
	var mu sync.Mutex
	totals := map[chaos.FaultKind]int{}
	var ops int
	res := chaos.Loop(t, chaos.LoopConfig{Runs: runs, Budget: budget, Seed: base}, func(t *testing.T, seed int64) {
		st := runChaos(t, seed, runConfig{faults: 3, floor: 100})
		mu.Lock()
		defer mu.Unlock()
		for k, v := range st.faults {
			totals[k] += v
		}
		ops += st.ops
	})
	t.Logf("chaos: process tier: %d runs, %d failed, %d operations checked, faults injected %v, %v",
		res.Runs, res.Failed, ops, totals, res.Elapsed.Round(time.Millisecond))
	if !soak {
		require.GreaterOrEqual(t, res.Runs, 10, "the CI budget must fit at least 10 runs")
	}
}

// runStats is what one run reports to the loop.
type runStats struct {
	ops    int
	faults map[chaos.FaultKind]int
}

func runChaos(t *testing.T, seed int64, rc runConfig) runStats {
	kinds := rc.kinds
	if kinds == nil {
		kinds = chaos.ProcessKinds()
	}
	sched, err := chaos.GenerateSchedule(seed, chaos.ScheduleConfig{
		Members: 3, Length: 4 * time.Second, Kinds: kinds, MaxFaults: rc.faults,
		MinGap: 300 * time.Millisecond, MaxGap: time.Second,
		MinFault: 500 * time.Millisecond, MaxFault: 1500 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Logf("chaos: seed %d schedule %s", seed, sched)
	art := chaos.NewArtifacts(t)
	rec := chaos.NewRecorder()
	counters := &chaos.FaultCounters{}
	var info *chaos.CheckInfo
	var streams []chaos.WatchStream
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		t.Logf("chaos: FAILED seed %d (replay: KEEL_CHAOS_SEED=%d -run 'TestChaosProcess/seed=%d') schedule %s; artifacts (history, html, member logs, data dirs) in %s",
			seed, seed, seed, sched, art.Dir)
		if err := art.SaveRun(seed, sched, rec, info); err != nil {
			t.Logf("chaos: saving artifacts: %v", err)
		}
		_ = art.SaveWatches(streams)                            // best effort
		_ = art.WriteJSON("counters.json", counters.Snapshot()) // best effort
	})

	began := time.Now()
	phases := map[string]time.Duration{}
	mark := func(name string) { phases[name] = time.Since(began).Round(time.Millisecond) }
	defer func() { t.Logf("chaos: phase end times %v", phases) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exe, err := os.Executable()
	require.NoError(t, err)
	c, err := chaos.NewCluster(ctx, chaos.ClusterConfig{Dir: art.Dir, Exe: exe, Args: memberArgs(), Seed: seed})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() }) // kills every child even on failure
	_, err = c.WaitLeader(ctx, 20*time.Second)
	require.NoError(t, err)

	mark("leader")
	rng := rand.New(rand.NewSource(seed))
	keys := chaos.RunKeys(rng, 5)
	prefix := keys[0][:len(keys[0])-2]
	for i := 0; i < c.Size(); i++ {
		require.NoError(t, c.WatchStart(ctx, i, "all", chaos.WatchRequest{Key: prefix, Prefix: true, StartRev: 1, PrevKV: true}))
		require.NoError(t, c.WatchStart(ctx, i, "key", chaos.WatchRequest{Key: keys[0]}))
	}

	// Workload: two clients per member, a lock worker per member, and the
	// nemesis after a warm-up.
	const warmup = time.Second
	last := sched.Faults[len(sched.Faults)-1]
	length := warmup + last.At + last.Duration + time.Second
	clients := make([]*chaos.Client, 0, 2*c.Size())
	for i := 0; i < 2*c.Size(); i++ {
		clients = append(clients, chaos.NewExecClient(i, c.Executor(i%c.Size()), rec, rand.New(rand.NewSource(seed+int64(i)+1)),
			chaos.WorkloadConfig{Keys: keys, Duration: length, OpTimeout: time.Second, MaxUnknown: 10}))
	}
	counts := make([]chaos.Counts, len(clients))
	fenced := &chaos.FencedResource{}
	stopLocks := make(chan struct{})
	lockViolations := make([][]error, c.Size())
	var wg, lwg sync.WaitGroup
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i] = cl.Run(ctx)
		}()
	}
	for i := 0; i < c.Size(); i++ {
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			_, lockViolations[i] = lockWorker(ctx, c, i, fmt.Sprintf("m%d", i), prefix+"lock/", fenced, stopLocks)
		}()
	}
	lc := chaos.NewLeaseChecker()
	leases := 0
	lwg.Add(1)
	go func() {
		defer lwg.Done()
		leases = leaseWorker(ctx, c, rec, lc, rand.New(rand.NewSource(seed-1)), prefix, stopLocks)
	}()
	nem := chaos.NewNemesis(c, rec, counters)
	time.Sleep(warmup)
	nemErr := nem.Run(ctx, sched)
	wg.Wait()
	close(stopLocks)
	lwg.Wait()
	mark("workload")
	require.NoError(t, nemErr, "nemesis could not restore the cluster")

	// Heal, restart, and prove liveness with a final write.
	require.NoError(t, nem.HealAll(ctx))
	leader, err := c.WaitLeader(ctx, 30*time.Second)
	require.NoError(t, err, "no leader after heal")
	finalWrite(ctx, t, c, leader, prefix+"final")

	mark("healed")
	var total chaos.Counts
	for _, n := range counts {
		total = total.Add(n)
	}
	t.Logf("chaos: workload %+v, faults %v, fence %+v, leases %d", total, counters.Snapshot(), fenced.Stats(), leases)

	// Final reads through the leader, recorded too.
	final := map[string]string{}
	var head int64
	for _, k := range keys {
		call := rec.Now()
		out, err := c.Executor(leader).Exec(ctx, chaos.Input{Kind: chaos.OpGet, Key: k})
		require.NoError(t, err, "final read of %s", k)
		rec.Record(100, chaos.Input{Kind: chaos.OpGet, Key: k}, call, out, nil)
		if out.Found {
			final[k] = out.Value
		}
		head = max(head, out.Revision)
	}

	// The run was real: load floor and every scheduled fault injected.
	require.NoError(t, chaos.CheckFloor(total, rc.floor))
	require.NoError(t, chaos.CheckInjected(sched, counters))

	// Linearizability (HTML saved on failure by the cleanup).
	hist := rec.Operations()
	ok, result, ci, err := chaos.Check(hist, time.Minute)
	info = &ci
	mark("porcupine")
	require.True(t, ok, "porcupine %s: %v", result, err)
	require.NoError(t, chaos.CheckAckedWrites(hist, final), "after kill-all: %v", nem.KilledAll)

	// Every member holds the same history and state.
	gt, err := c.GroundTruth(ctx, leader, head)
	require.NoError(t, err)
	h, err := chaos.NewHistory(gt)
	require.NoError(t, err)
	var hashes []chaos.MemberHash
	for i := 0; i < c.Size(); i++ {
		other, err := c.GroundTruth(ctx, i, head)
		require.NoError(t, err, "ground truth of %s", c.ID(i))
		require.Equal(t, gt, other, "%s applied a different history", c.ID(i))
		hr, err := c.Hash(ctx, i, head)
		require.NoError(t, err)
		hashes = append(hashes, chaos.MemberHash{Member: c.ID(i), Hash: hr.Hash, Revision: hr.Revision})
	}
	require.NoError(t, chaos.CheckHashes(hashes))
	mark("hashes")

	// Watches: the ones that survived the run, and fresh ones from
	// revision 1 on every member.
	for i := 0; i < c.Size(); i++ {
		require.NoError(t, c.WatchStart(ctx, i, "replay", chaos.WatchRequest{Key: prefix, Prefix: true, StartRev: 1, PrevKV: true}))
	}
	for i := 0; i < c.Size(); i++ {
		for _, id := range []string{"all", "key", "replay"} {
			s, err := c.WatchStop(ctx, i, id, head)
			if err != nil {
				require.NotEqual(t, "replay", id, "replay watch on %s: %v", c.ID(i), err)
				continue // the member was restarted: its watches died with it
			}
			streams = append(streams, s)
		}
	}
	require.NotEmpty(t, streams)
	for _, s := range streams {
		require.NoError(t, chaos.ValidateWatch(h, s))
	}

	mark("watches")
	// Lock safety through fencing tokens.
	for _, vs := range lockViolations {
		require.Empty(t, vs)
	}
	require.NoError(t, fenced.Check())
	// Lease safety: no expiry before a renewal's TTL ran out, and expiry
	// within TTL + allowance after the holder stopped.
	require.Positive(t, leases, "no lease was tracked")
	require.NoError(t, lc.Check(rec.Now(), leaseAllowance))
	return runStats{ops: len(hist), faults: counters.Snapshot()}
}

// finalWrite retries a put until it succeeds (within 10s): the cluster
// must be live after the heal.
func finalWrite(ctx context.Context, t *testing.T, c *chaos.Cluster, leader int, key string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.Executor(leader).Exec(wctx, chaos.Input{Kind: chaos.OpPut, Key: key, Value: "tombstone"})
		cancel()
		if err == nil {
			return
		}
		var re *chaos.RemoteError
		require.True(t, errors.As(err, &re), "final write: %v", err)
		require.True(t, time.Now().Before(deadline), "final write did not succeed within 10s after heal: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
}
