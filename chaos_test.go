package keel_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/chaos"
	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/keeltest"
)

// The in-process tier of the fault-injection suite (issue #6): three
// members in this process on loopback TCP, each with its raft log on a
// fault-injecting file system, driven by a seeded fault schedule while
// clients on every member run a put/get/delete/CAS workload. Each run then
// heals, requires a final write to succeed, and checks linearizability
// (porcupine), the watch guarantees against the applied history, equal
// state on every member, lease safety, that the load was real and that
// every scheduled fault was injected. KEEL_CHAOS=30m soaks; KEEL_CHAOS_SEED
// replays a run; KEEL_CHAOS_KINDS=kill-member,restart limits the faults.

// inprocKinds are the faults this tier injects (process pauses are the
// process tier's).
var inprocKinds = []chaos.FaultKind{
	chaos.PartitionLeader, chaos.PartitionMinority, chaos.OneWayLoss, chaos.Delay, chaos.Flap,
	chaos.KillMember, chaos.KillLeader, chaos.KillAll, chaos.FsyncFail, chaos.SlowFsync,
	chaos.CrashLoseUnsynced, chaos.Restart,
}

// chaosKinds returns inprocKinds, or the comma-separated fault kinds of
// KEEL_CHAOS_KINDS (a soak aimed at some faults), failing tb on a kind this
// tier does not inject.
func chaosKinds(tb testing.TB) []chaos.FaultKind {
	env := os.Getenv("KEEL_CHAOS_KINDS")
	if env == "" {
		return inprocKinds
	}
	var kinds []chaos.FaultKind
	for _, k := range strings.Split(env, ",") {
		kind := chaos.FaultKind(strings.TrimSpace(k))
		require.Contains(tb, inprocKinds, kind, "KEEL_CHAOS_KINDS")
		kinds = append(kinds, kind)
	}
	return kinds
}

// chaosCluster is a keeltest cluster whose members' raft logs live on
// fault-injecting file systems, for the disk faults and for crashes that
// lose what a log had not fsynced. Faults that stop or start members are
// injected and healed on the test's goroutine, as keeltest's Stop and
// Restart fail the test when they fail; the Flap goroutine only isolates
// and heals, which cannot fail.
type chaosCluster struct {
	*keeltest.Cluster
	fs []*faultfs.FS // member i's raft log file system
	// seed seeds the power cuts (with crashes, their number so far); only
	// the test's goroutine crashes members. inFsync counts the cuts that
	// landed in a log fsync, reordered those that persisted a later
	// unsynced page of a file but not an earlier one.
	seed      int64
	crashes   int
	inFsync   int
	reordered int
}

// newChaosCluster starts n members whose data dirs and logs live in dir
// (the run's artifacts directory, kept when the run fails); seed seeds
// its power cuts.
func newChaosCluster(tb testing.TB, n int, dir string, seed int64) *chaosCluster {
	tb.Helper()
	c := &chaosCluster{fs: make([]*faultfs.FS, n), seed: seed}
	loggers := make([]*slog.Logger, n)
	for i := range n {
		id := fmt.Sprintf("m%d", i) // keeltest's ID of member i
		c.fs[i] = faultfs.New()
		logf, err := os.Create(filepath.Join(dir, id+".log"))
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = logf.Close() }) // runs after the cluster's cleanup closes the members
		loggers[i] = slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo})).With("m", id)
	}
	c.Cluster = keeltest.NewCluster(tb, n, keeltest.WithConfig(func(i int, cfg *keel.Config) {
		cfg.Dir = filepath.Join(dir, cfg.ID)
		if os.Getenv("KEEL_TEST_LOG") == "" { // else keeltest logs to stderr
			cfg.Logger = loggers[i]
		}
		cfg.HeartbeatTimeout = 150 * time.Millisecond
		cfg.WALFS, cfg.WALSegmentSize = c.fs[i], 256<<10
	}))
	return c
}

// restart reopens member i on its data and address if it is stopped.
func (c *chaosCluster) restart(i int) {
	if c.Member(i) == nil {
		c.Restart(i)
	}
}

// kill stops member i as a killed process would; lose also cuts the
// power of its raft log's disk: of the pages it had not fsynced, a random
// subset persists, in any order (faultfs.TornPages).
func (c *chaosCluster) kill(i int, lose bool) {
	if c.Member(i) == nil {
		return
	}
	if !lose {
		c.Crash(i)
	} else {
		c.powerCut(i)
	}
	c.fs[i].ClearFaults()
	c.fs[i].SetSyncDelay(0)
}

// powerCut crashes member i and its raft log's disk. The cut lands in
// the member's next log fsync if one starts within powerCutWait (under
// load one does): so it catches unsynced pages, as a cut during writes
// would. The member sees that fsync fail and fail-stops; it is then
// crashed. With no fsync in time (or a member already fail-stopped) the
// cut follows the crash.
func (c *chaosCluster) powerCut(i int) {
	fsys := c.fs[i]
	c.crashes++
	seed := uint64(c.seed)*1_000_003 + uint64(c.crashes)
	before, _ := fsys.Crashes()
	fsys.ClearFaults() // an injected fsync error would fail the sync first
	fsys.Inject(faultfs.Fault{Op: faultfs.OpSync, Pattern: "*.seg", Times: 1, Crash: faultfs.TornPages, Seed: seed})
	wait := powerCutWait
	if c.Member(i).Err() != nil {
		wait = 0
	}
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if n, _ := fsys.Crashes(); n > before {
			break
		}
	}
	fsys.ClearFaults()
	c.Crash(i)
	n, rep := fsys.Crashes()
	if n == before {
		rep = fsys.CrashWith(faultfs.TornPages, seed)
	} else {
		c.inFsync++
	}
	if rep.Reordered > 0 {
		c.reordered++
	}
}

// powerCutWait bounds how long powerCut waits for a log fsync to cut.
const powerCutWait = 300 * time.Millisecond

// stopClean closes member i gracefully.
func (c *chaosCluster) stopClean(i int) {
	if c.Member(i) != nil {
		c.Stop(i)
	}
}

// leaderOr returns the leader, waiting a little for one (an election may be
// under way); with none it falls back to another target, so that every
// scheduled fault is injected.
func (c *chaosCluster) leaderOr(fallback func() int) int {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if l := c.leader(); l >= 0 {
			return l
		}
	}
	return fallback()
}

// leader returns the position of a running leader, or -1.
func (c *chaosCluster) leader() int {
	for i, s := range c.Members() {
		if s != nil && s.IsLeader() {
			return i
		}
	}
	return -1
}

// memberKV is a keel.KV that always uses member i's current Store; while
// the member is down, calls fail with keel.ErrStopped (a definite failure).
type memberKV struct {
	c *chaosCluster
	i int
}

var _ keel.KV = memberKV{}

func (m memberKV) store() (*keel.Store, error) {
	if s := m.c.Member(m.i); s != nil {
		return s, nil
	}
	time.Sleep(20 * time.Millisecond) // a down member answers nothing for a while
	return nil, keel.ErrStopped
}

func (m memberKV) Put(ctx context.Context, key, val string, opts ...keel.OpOption) (*keel.PutResponse, error) {
	s, err := m.store()
	if err != nil {
		return nil, err
	}
	return s.Put(ctx, key, val, opts...)
}

func (m memberKV) Get(ctx context.Context, key string, opts ...keel.OpOption) (*keel.GetResponse, error) {
	s, err := m.store()
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, key, opts...)
}

func (m memberKV) Delete(ctx context.Context, key string, opts ...keel.OpOption) (*keel.DeleteResponse, error) {
	s, err := m.store()
	if err != nil {
		return nil, err
	}
	return s.Delete(ctx, key, opts...)
}

func (m memberKV) Compact(ctx context.Context, rev int64, opts ...keel.CompactOption) (*keel.CompactResponse, error) {
	s, err := m.store()
	if err != nil {
		return nil, err
	}
	return s.Compact(ctx, rev, opts...)
}

func (m memberKV) Do(ctx context.Context, op keel.Op) (keel.OpResponse, error) {
	s, err := m.store()
	if err != nil {
		return keel.OpResponse{}, err
	}
	return s.Do(ctx, op)
}

func (m memberKV) Txn(ctx context.Context) keel.Txn {
	s, err := m.store()
	if err != nil {
		return failedTxn{err}
	}
	return s.Txn(ctx)
}

// failedTxn is the Txn of a member that is down: Commit fails definitely.
type failedTxn struct{ err error }

func (t failedTxn) If(...keel.Cmp) keel.Txn            { return t }
func (t failedTxn) Then(...keel.Op) keel.Txn           { return t }
func (t failedTxn) Else(...keel.Op) keel.Txn           { return t }
func (t failedTxn) Commit() (*keel.TxnResponse, error) { return nil, t.err }

// inject applies one fault and returns how to heal it.
func (c *chaosCluster) inject(f chaos.Fault, rng *rand.Rand) (heal func(), ok bool) {
	n := len(c.fs)
	target := func() int {
		if len(f.Targets) > 0 {
			return f.Targets[0]
		}
		return rng.Intn(n)
	}
	switch f.Kind {
	case chaos.PartitionLeader:
		c.Isolate(c.leaderOr(target))
		return c.HealAll, true
	case chaos.PartitionMinority:
		for _, t := range f.Targets {
			c.Isolate(t)
		}
		if len(f.Targets) == 0 {
			c.Isolate(target())
		}
		return c.HealAll, true
	case chaos.OneWayLoss:
		a, b := f.Targets[0], f.Targets[1]
		c.Lose(a, b)
		return c.HealAll, true
	case chaos.Delay:
		t := target()
		for j := range n {
			if j != t {
				c.Delay(t, j, 20*time.Millisecond)
				c.Delay(j, t, 20*time.Millisecond)
			}
		}
		return c.HealAll, true
	case chaos.Flap:
		t := target()
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for cut := true; ; cut = !cut {
				if cut {
					c.Isolate(t)
				} else {
					c.HealAll()
				}
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(50+rng.Intn(150)) * time.Millisecond):
				}
			}
		}()
		return func() { close(stop); <-done; c.HealAll() }, true
	case chaos.KillMember, chaos.KillLeader, chaos.CrashLoseUnsynced, chaos.Restart, chaos.FsyncFail:
		t := target()
		if f.Kind == chaos.KillLeader {
			t = c.leaderOr(target)
		}
		if c.Member(t) == nil {
			return nil, false
		}
		switch f.Kind {
		case chaos.Restart:
			c.stopClean(t)
		case chaos.FsyncFail:
			c.fs[t].Inject(faultfs.Fault{Op: faultfs.OpSync, Err: syscall.EIO})
		default:
			c.kill(t, f.Kind == chaos.CrashLoseUnsynced)
		}
		return func() {
			if f.Kind == chaos.FsyncFail {
				// The member fail-stops on its own; if it has not yet
				// (no write reached it), stop it now as the fault's end.
				c.kill(t, true)
			}
			c.restart(t)
		}, true
	case chaos.KillAll:
		for i := range n {
			c.kill(i, true)
		}
		return func() {
			for i := range n {
				c.restart(i)
			}
		}, true
	case chaos.SlowFsync:
		t := target()
		c.fs[t].SetSyncDelay(5 * time.Millisecond)
		return func() { c.fs[t].SetSyncDelay(0) }, true
	}
	return nil, false
}

// putUntilOK retries a put for up to 30 s: during an election or a
// recovery an attempt may fail or end with an unknown outcome, and what is
// checked here is that the cluster makes progress again.
func putUntilOK(ctx context.Context, kv keel.KV, key, val string) (*keel.PutResponse, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		r, err := kv.Put(pctx, key, val)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return r, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// chaosRunResult is what one run reports for the totals.
type chaosRunResult struct {
	counts chaos.Counts
	faults map[chaos.FaultKind]int
	ops    int
	// powerCuts, inFsync and reordered count the power cuts, those that
	// landed in a log fsync and those that persisted pages out of order.
	powerCuts, inFsync, reordered int
}

// runChaos runs one seeded schedule and checks it; it fails tb on any
// violation, after saving artifacts.
func runChaos(t *testing.T, seed int64) chaosRunResult {
	art := chaos.NewArtifacts(t)
	rng := rand.New(rand.NewSource(seed))
	sched, err := chaos.GenerateSchedule(seed, chaos.ScheduleConfig{
		Members: 3, Length: 1200 * time.Millisecond, Kinds: chaosKinds(t),
		MinGap: 100 * time.Millisecond, MaxGap: 400 * time.Millisecond,
		MinFault: 200 * time.Millisecond, MaxFault: 800 * time.Millisecond, MaxFaults: 2,
	})
	require.NoError(t, err)
	t.Logf("chaos: seed %d schedule %s", seed, sched)
	c := newChaosCluster(t, 3, art.Dir, seed)
	rec := chaos.NewRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// Wait for a leader before the clock starts.
	_, err = putUntilOK(ctx, memberKV{c, 0}, "warmup", "x")
	require.NoError(t, err, "the cluster did not come up")

	// Watchers on random members, from the start and from a recent past.
	watchCtx, stopWatches := context.WithCancel(ctx)
	defer stopWatches()
	var watches []*chaos.WatchRecorder
	for w := range 2 {
		s := c.Member(rng.Intn(3))
		req := chaos.WatchRequest{Key: "", Prefix: true, PrevKV: w == 0, StartRev: int64(1 + rng.Intn(2))}
		watches = append(watches, chaos.RecordWatch(watchCtx, s, rec, s.ID(), req, 0))
	}

	keys := chaos.RunKeys(rng, 5)
	// Clients run through the faults and on after recovery (see below), so
	// every run has load both under faults and once the cluster is healthy.
	clientCtx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	var wg sync.WaitGroup
	var total chaos.Counts
	var totalMu sync.Mutex
	for id := range 6 {
		cl := chaos.NewClient(id, memberKV{c, id % 3}, rec, rand.New(rand.NewSource(seed*31+int64(id)+1)),
			chaos.WorkloadConfig{Keys: keys, OpTimeout: 400 * time.Millisecond})
		wg.Go(func() {
			n := cl.Run(clientCtx)
			totalMu.Lock()
			total = total.Add(n)
			totalMu.Unlock()
		})
	}

	// The nemesis follows the schedule.
	counters := &chaos.FaultCounters{}
	start := time.Now()
	for _, f := range sched.Faults {
		time.Sleep(time.Until(start.Add(f.At)))
		heal, ok := c.inject(f, rng)
		if !ok {
			t.Logf("chaos: %s could not be injected now (no target)", f.Kind)
			continue
		}
		counters.Inc(f.Kind)
		end := rec.BeginFault(f.Kind, fmt.Sprint(f.Targets))
		time.Sleep(f.Duration)
		heal()
		end()
	}

	// Heal everything, bring every member back, and require liveness.
	c.HealAll()
	for i := range 3 {
		c.restart(i)
	}
	// Liveness: a write must succeed soon after healing.
	final, err := putUntilOK(ctx, memberKV{c, rng.Intn(3)}, "final", fmt.Sprint(seed))
	require.NoError(t, err, "the cluster did not recover after healing")
	// Load on the recovered cluster, then stop the clients: at least
	// 400 ms, and until the run has its floor of completed operations (a
	// loaded CI machine may leave little progress during the faults), for
	// at most 20 s: a healed cluster that cannot reach the floor by then
	// fails CheckFloor below.
	time.Sleep(400 * time.Millisecond)
	for deadline := time.Now().Add(20 * time.Second); rec.Completed() < chaosFloor && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	stopClients()
	wg.Wait()

	fail := func(format string, args ...any) {
		t.Helper()
		_ = art.SaveRun(seed, sched, rec, nil)
		t.Fatalf(format, args...)
	}

	// Linearizability.
	ops := rec.Operations()
	ok, _, info, err := chaos.Check(ops, 60*time.Second)
	if err != nil || !ok {
		_ = chaos.SaveHTML(art.Path("history.html"), info, rec.Faults())
		_ = art.SaveRun(seed, sched, rec, &info)
		t.Fatalf("chaos: seed %d: history is not linearizable (%v); see %s", seed, err, art.Path("history.html"))
	}
	if err := chaos.CheckFloor(total, chaosFloor); err != nil {
		fail("chaos: seed %d: %v", seed, err)
	}
	if err := chaos.CheckInjected(sched, counters); err != nil {
		fail("chaos: seed %d: %v", seed, err)
	}

	// Every member converges to the same state.
	rev := final.Header.Revision
	var hashes []chaos.MemberHash
	for i := range 3 {
		// A linearizable read makes the member apply everything committed.
		gctx, gcancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := c.Member(i).Get(gctx, "final")
		gcancel()
		if err != nil {
			for j := range 3 {
				st, serr := c.Member(j).Status(ctx)
				t.Logf("member %d: %+v %+v (%v)", j, st, st.Header, serr)
			}
			fail("chaos: seed %d: member %d cannot serve a linearizable read after healing: %v", seed, i, err)
		}
	}
	require.Eventually(t, func() bool {
		hashes = hashes[:0]
		for i := range 3 {
			h, err := c.Member(i).HashKV(ctx)
			if err != nil || h.Header.Revision < rev {
				return false
			}
			hashes = append(hashes, chaos.MemberHash{Member: c.Member(i).ID(), Hash: uint64(h.Hash), Revision: h.Header.Revision})
		}
		return chaos.CheckHashes(hashes) == nil
	}, 30*time.Second, 20*time.Millisecond, "members did not converge: %v", hashes)

	// End the recorded watches before reading the final state: a write
	// whose outcome was unknown may still commit after the checks above,
	// and the ground truth must cover every event a watch could see.
	stopWatches()
	for _, w := range watches {
		<-w.Done()
	}

	// Acknowledged writes survive, whatever was killed.
	gr, err := c.Member(0).Get(ctx, "", keel.WithPrefix())
	require.NoError(t, err)
	finalState := map[string]string{}
	for _, kv := range gr.Kvs {
		finalState[string(kv.Key)] = string(kv.Value)
	}
	if err := chaos.CheckAckedWrites(ops, finalState); err != nil {
		fail("chaos: seed %d: %v", seed, err)
	}

	// Watches against the applied history.
	truth, err := chaos.GroundTruth(ctx, c.Member(0), gr.Header.Revision)
	require.NoError(t, err)
	hist, err := chaos.NewHistory(truth)
	require.NoError(t, err)
	var streams []chaos.WatchStream
	for _, w := range watches {
		st := w.Stream()
		streams = append(streams, st)
		if err := chaos.ValidateWatch(hist, st); err != nil {
			_ = art.SaveWatches(streams)
			fail("chaos: seed %d: watch on %s: %v", seed, st.Member, err)
		}
	}
	return chaosRunResult{counts: total, faults: counters.Snapshot(), ops: len(ops), powerCuts: c.crashes, inFsync: c.inFsync, reordered: c.reordered}
}

// chaosFloor is the least number of operations with a definite outcome a
// run must complete (CheckFloor): the load must have been real.
const chaosFloor = 30

// chaosParallel is how many clusters run at once: a run mostly waits
// (timeouts, elections, fsyncs), so three share two cores well.
const chaosParallel = 3

func TestChaosInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos suite skipped in -short mode")
	}
	budget, soak, err := chaos.Budget(8 * time.Minute)
	require.NoError(t, err)
	runs := 200
	if soak {
		runs = 0 // until the budget
	}
	seed := chaos.Seed(t)
	if os.Getenv(chaos.EnvSeed) != "" {
		runs, budget = 1, 0
	}
	var (
		mu      sync.Mutex
		faults  = map[chaos.FaultKind]int{}
		ops     int
		cuts    int
		inFsync int
		reorder int
		counts  chaos.Counts
		started atomic.Int64
		failed  atomic.Int64
		done    atomic.Int64
		wg      sync.WaitGroup
	)
	start := time.Now()
	for range chaosParallel {
		wg.Go(func() {
			for {
				i := started.Add(1) - 1
				if (runs > 0 && i >= int64(runs)) || (budget > 0 && time.Since(start) > budget) || failed.Load() > 0 {
					return
				}
				s := seed + i
				ok := t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
					r := runChaos(t, s)
					mu.Lock()
					defer mu.Unlock()
					for k, n := range r.faults {
						faults[k] += n
					}
					ops += r.ops
					cuts += r.powerCuts
					inFsync += r.inFsync
					reorder += r.reordered
					counts = counts.Add(r.counts)
				})
				done.Add(1)
				if !ok {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("chaos in-process: %d runs, %d failed, %v; %d operations checked (%d completed, %d unknown, %d failed); faults %v; %d power cuts (%d in an fsync, %d reordered)",
		done.Load(), failed.Load(), time.Since(start).Round(time.Second), ops, counts.Completed, counts.Unknown, counts.Failed, faults, cuts, inFsync, reorder)
	require.Zero(t, failed.Load())
	if runs > 0 && budget > 0 && done.Load() < int64(runs) {
		t.Logf("chaos in-process: budget %v ran out after %d of %d runs", budget, done.Load(), runs)
	}
}

// TestChaosRegressions replays schedules that once found bugs.
func TestChaosRegressions(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos suite skipped in -short mode")
	}
	for _, tc := range []struct {
		name string
		seed int64
	}{
		// One-way loss from a follower left its forwarding connection to
		// the leader black-holed after healing: every later forwarded
		// write vanished (transport now replaces stalled connections).
		{name: "stalled forwarding connection after one-way loss", seed: 1795601846864809892},
		// One-way loss made a follower reject appends while two were in
		// flight: raft's pipelined replication deadlocked (no more entries
		// to that follower, Shutdown hung); and short-lived read-index
		// calls into a black-holed connection never let the stall watch
		// fire. Pipelining is now off and the watch tracks unanswered
		// writes, not pending calls.
		{name: "pipeline deadlock and short calls into a black hole", seed: 1795602553068668710},
		{name: "linearizable read after one-way loss and delay", seed: 1795602553068668715},
	} {
		t.Run(tc.name, func(t *testing.T) { runChaos(t, tc.seed) })
	}
}
