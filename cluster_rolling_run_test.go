package keel_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/chaos"
	"github.com/keeldb/keel/keeltest"
)

// rollingRun is one run: a cluster, its recorded workload and the
// artifacts kept if the run fails.
type rollingRun struct {
	t    testing.TB
	seed int64
	rng  *rand.Rand // the test goroutine's: membership choices
	art  *chaos.Artifacts
	c    *keeltest.Cluster
	rec  *chaos.Recorder
	keys []string
	logs []*os.File

	mu      sync.Mutex
	nextID  int                      // the next client's ID
	clients map[int][]*rollingClient // by member position
	counts  chaos.Counts
	errs    map[string]int // failed operations by kind and error
}

// rollingClient is one running client.
type rollingClient struct {
	stop context.CancelFunc
	done chan struct{}
}

// newRollingRun starts a three-member cluster whose members log into the
// run's artifacts directory, and clients on each member.
func newRollingRun(t testing.TB, seed int64) *rollingRun {
	t.Helper()
	r := &rollingRun{
		t: t, seed: seed, rng: rand.New(rand.NewSource(seed)), art: chaos.NewArtifacts(t),
		rec: chaos.NewRecorder(), clients: map[int][]*rollingClient{}, errs: map[string]int{},
	}
	t.Logf("rolling: seed %d", seed)
	r.keys = chaos.RunKeys(r.rng, rollingKeys)
	// Registered before the cluster's cleanup, so it runs after it: the
	// members have stopped logging.
	t.Cleanup(func() {
		for _, f := range r.logs {
			_ = f.Close()
		}
	})
	r.c = keeltest.NewCluster(t, 3, keeltest.WithConfig(func(_ int, cfg *keel.Config) {
		if os.Getenv("KEEL_TEST_LOG") == "" { // else keeltest's, to stderr
			cfg.Logger = r.logger(cfg.ID)
		}
	}))
	for i := range 3 {
		r.startClients(i)
	}
	return r
}

// logger returns a logger for member id into the artifacts directory.
func (r *rollingRun) logger(id string) *slog.Logger {
	f, err := os.Create(filepath.Join(r.art.Dir, id+".log"))
	if err != nil { // not fatal here: this may run on a join's goroutine
		r.t.Errorf("rolling: log of %s: %v", id, err)
		return nil
	}
	r.mu.Lock()
	r.logs = append(r.logs, f)
	r.mu.Unlock()
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo})).With("m", id)
}

// join starts a new member through addrs (all the running members' if
// nil), and clients on it once it serves. It returns its position.
func (r *rollingRun) join(addrs []string) int {
	r.t.Helper()
	end := r.rec.BeginFault("join", fmt.Sprint(addrs))
	n := r.c.Join(r.joinHook(addrs))
	end()
	r.startClients(n)
	return n
}

// joinHook is the Config hook of a member that joins through addrs
// (keeltest's default, every member's address, if nil).
func (r *rollingRun) joinHook(addrs []string) func(cfg *keel.Config) {
	return func(cfg *keel.Config) {
		if addrs != nil {
			cfg.Join = addrs
		}
		if os.Getenv("KEEL_TEST_LOG") == "" {
			cfg.Logger = r.logger(cfg.ID)
		}
	}
}

// startClients starts rollingClients clients on member i.
func (r *rollingRun) startClients(i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range rollingClients {
		id := r.nextID
		r.nextID++
		cl := chaos.NewExecClient(id, rollingExec{r: r, i: i}, r.rec, rand.New(rand.NewSource(r.seed*31+int64(id)+1)),
			chaos.WorkloadConfig{Keys: r.keys, OpTimeout: rollingOpTimeout})
		ctx, stop := context.WithCancel(context.Background())
		rc := &rollingClient{stop: stop, done: make(chan struct{})}
		r.clients[i] = append(r.clients[i], rc)
		go func() {
			defer close(rc.done)
			n := cl.Run(ctx)
			r.mu.Lock()
			r.counts = r.counts.Add(n)
			r.mu.Unlock()
		}()
	}
	// A failed test stops them too; stopping twice is harmless.
	r.t.Cleanup(func() { r.stopClients(i) })
}

// stopClients stops member i's clients and waits for them. A client stops
// before its next operation: the one in flight runs to its own timeout
// (see rollingExec), so stopping makes no unknown outcomes.
func (r *rollingRun) stopClients(i int) {
	r.mu.Lock()
	cls := r.clients[i]
	delete(r.clients, i)
	r.mu.Unlock()
	for _, cl := range cls {
		cl.stop()
	}
	for _, cl := range cls {
		<-cl.done
	}
}

// stopLoad stops every client and returns the totals.
func (r *rollingRun) stopLoad() chaos.Counts {
	r.mu.Lock()
	var members []int
	for i := range r.clients {
		members = append(members, i)
	}
	r.mu.Unlock()
	for _, i := range members {
		r.stopClients(i)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

// progress waits until rollingProgress more operations have completed
// with a definite outcome, failing the run if the cluster serves too few
// within keeltest.WaitLimit.
func (r *rollingRun) progress() {
	r.t.Helper()
	want := r.rec.Completed() + rollingProgress
	ctx, cancel := context.WithTimeout(r.t.Context(), keeltest.WaitLimit)
	defer cancel()
	for r.rec.Completed() < want {
		select {
		case <-ctx.Done():
			r.fail("the load stalled: %d of %d operations completed", r.rec.Completed(), want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// fail saves the run's history and fails it.
func (r *rollingRun) fail(format string, args ...any) {
	r.t.Helper()
	_ = r.art.SaveRun(r.seed, chaos.Schedule{}, r.rec, nil)
	r.t.Fatalf("rolling: seed %d: "+format, append([]any{r.seed}, args...)...)
}

// running returns the positions of the running members.
func (r *rollingRun) running() []int {
	var out []int
	for i, s := range r.c.Members() {
		if s != nil {
			out = append(out, i)
		}
	}
	return out
}

// addrs returns the addresses of the running members, in a random order.
func (r *rollingRun) addrs() []string {
	var out []string
	for _, i := range r.running() {
		out = append(out, r.c.Member(i).Addr())
	}
	r.rng.Shuffle(len(out), func(a, b int) { out[a], out[b] = out[b], out[a] })
	return out
}

// check stops the load and checks the end state: the running members
// converge, each lists exactly the running members, all voters, and the
// history is linearizable, with every acknowledged write in every
// member's final state.
func (r *rollingRun) check() {
	r.t.Helper()
	counts := r.stopLoad()
	ctx, cancel := context.WithTimeout(r.t.Context(), keeltest.WaitLimit)
	defer cancel()
	if err := r.c.WaitConverged(ctx); err != nil {
		r.fail("members did not converge: %v", err)
	}
	var want []string
	for _, i := range r.running() {
		want = append(want, r.c.Member(i).ID())
	}
	ids := map[string]uint64{}
	for _, i := range r.running() {
		ids[r.c.Member(i).ID()] = r.c.Member(i).MemberID()
	}
	for _, i := range r.running() {
		s := r.c.Member(i)
		ml, err := s.MemberList(ctx)
		require.NoError(r.t, err, "member %s", s.ID())
		v, l := voters(ml.Members)
		require.ElementsMatch(r.t, want, v, "voters listed by %s", s.ID())
		require.Empty(r.t, l, "learners listed by %s", s.ID())
		for _, m := range ml.Members {
			if m.ID != ids[m.Name] {
				r.fail("%s lists %s with ID %016x, but that member's MemberID is %016x", s.ID(), m.Name, m.ID, ids[m.Name])
			}
		}
	}

	ops := r.rec.Operations()
	start := time.Now()
	ok, _, info, err := chaos.Check(ops, time.Minute)
	if !ok {
		_ = r.art.SaveRun(r.seed, chaos.Schedule{}, r.rec, &info)
		r.t.Fatalf("rolling: seed %d: %v; see %s", r.seed, err, r.art.Path("history.html"))
	}
	checked := time.Since(start)

	// Every acknowledged write is in every member's history, at the
	// revision it reported, and the members' histories are the same.
	// The histories are compared up to the first member's revision: a
	// write whose outcome was unknown may still commit meanwhile.
	var first []chaos.Event
	var rev int64
	for _, i := range r.running() {
		s := r.c.Member(i)
		final := map[string]string{}
		for _, k := range r.keys {
			gr, err := s.Get(ctx, k)
			require.NoError(r.t, err, "member %s", s.ID())
			for _, kv := range gr.Kvs {
				final[string(kv.Key)] = string(kv.Value)
			}
			if rev == 0 {
				rev = gr.Header.Revision
			}
		}
		if err := chaos.CheckAckedWrites(ops, final); err != nil {
			r.fail("member %s: %v", s.ID(), err)
		}
		events, err := chaos.GroundTruth(ctx, s, rev)
		require.NoError(r.t, err, "member %s", s.ID())
		if _, err := chaos.NewHistory(events); err != nil {
			r.fail("member %s: %v", s.ID(), err)
		}
		if err := checkAckedInHistory(ops, events); err != nil {
			r.fail("member %s: %v", s.ID(), err)
		}
		if first == nil {
			first = events
		} else if !reflect.DeepEqual(first, events) {
			r.fail("member %s's history (%d events) differs from %s's (%d events)", s.ID(), len(events), r.c.Member(r.running()[0]).ID(), len(first))
		}
	}
	if err := chaos.CheckFloor(counts, rollingProgress); err != nil {
		r.fail("%v", err)
	}
	r.mu.Lock()
	errs := maps.Clone(r.errs)
	r.mu.Unlock()
	r.t.Logf("rolling: seed %d: %d operations linearizable (checked in %v): %d completed, %d unknown, %d failed; errors %v",
		r.seed, len(ops), checked.Round(time.Millisecond), counts.Completed, counts.Unknown, counts.Failed, errs)
}

// checkAckedInHistory checks that every acknowledged write is in events,
// a member's history from revision 1: a Put, or a CAS that succeeded, as
// a put of its key and value at the revision its response reported; a
// Delete that deleted, as a delete of its key at that revision.
func checkAckedInHistory(ops []chaos.Operation, events []chaos.Event) error {
	type at struct {
		rev int64
		key string
	}
	byRev := make(map[at]chaos.Event, len(events))
	for _, e := range events {
		byRev[at{e.KV.ModRev, e.KV.Key}] = e
	}
	var lost []string
	for _, op := range ops {
		in, out := op.Input, op.Output
		put := in.Kind == chaos.OpPut || (in.Kind == chaos.OpCAS && out.OK)
		if out.Unknown || !(put || (in.Kind == chaos.OpDelete && out.OK)) {
			continue
		}
		e, ok := byRev[at{out.Revision, in.Key}]
		switch {
		case !ok:
			lost = append(lost, fmt.Sprintf("client %d %s %q=%q: no event at revision %d", op.ClientID, in.Kind, in.Key, in.Value, out.Revision))
		case put && (e.Type != keel.EventTypePut || e.KV.Value != in.Value):
			lost = append(lost, fmt.Sprintf("client %d %s %q=%q: revision %d has %v %q", op.ClientID, in.Kind, in.Key, in.Value, out.Revision, e.Type, e.KV.Value))
		case !put && e.Type != keel.EventTypeDelete:
			lost = append(lost, fmt.Sprintf("client %d delete %q: revision %d has %v %q", op.ClientID, in.Key, out.Revision, e.Type, e.KV.Value))
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("%w: %d not in the history: %v", chaos.ErrLostWrite, len(lost), lost[:min(len(lost), 10)])
	}
	return nil
}

// rollingExec runs a client's operations on member i, whichever Store
// holds that position now. While the member is down or stopping,
// operations fail with keel.ErrStopped (a definite failure) and the client
// pauses briefly.
type rollingExec struct {
	r *rollingRun
	i int
}

var _ chaos.Executor = rollingExec{}

func (e rollingExec) Exec(ctx context.Context, in chaos.Input) (chaos.Output, error) {
	var out chaos.Output
	err := error(keel.ErrStopped)
	if s := e.r.c.Members()[e.i]; s != nil {
		// The operation runs to its own deadline even if the client is
		// stopped meanwhile (chaos.Client cancels it with the Run's ctx),
		// so that stopping the load does not turn writes into unknowns.
		dl, _ := ctx.Deadline()
		octx, cancel := context.WithDeadline(context.WithoutCancel(ctx), dl)
		out, err = chaos.Exec(octx, s, in)
		cancel()
	}
	if err != nil {
		e.r.tally(in.Kind, err)
	}
	if errors.Is(err, keel.ErrStopped) {
		select { // a stopped member answers nothing for a while
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	return out, err
}

// tally counts a failed operation by kind and error, for the run's summary.
func (r *rollingRun) tally(kind chaos.OpKind, err error) {
	k := "other"
	for _, e := range []error{keel.ErrRemoved, keel.ErrTimeout, keel.ErrNoLeader, keel.ErrStopped, keel.ErrNotLeader} {
		if errors.Is(err, e) {
			k = e.Error()
			break
		}
	}
	r.mu.Lock()
	r.errs[fmt.Sprintf("%s: %s", kind, k)]++
	r.mu.Unlock()
}

// retryMembership retries a membership call through a random running
// member while it fails with an error that asks for a retry (another
// change in flight, a removal refused while an election is under way, an
// outcome unknown), for at most keeltest.WaitLimit. A retry that finds its
// change already made (ErrMemberNotFound after an unknown outcome) counts
// as done.
func (r *rollingRun) retryMembership(what string, call func(ctx context.Context, s *keel.Store) error) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), keeltest.WaitLimit)
	defer cancel()
	var last error
	for attempt := 0; ; attempt++ {
		live := r.running()
		s := r.c.Member(live[r.rng.Intn(len(live))])
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		err := call(actx, s)
		acancel()
		switch {
		case err == nil:
			return
		case errors.Is(err, keel.ErrMemberNotFound) && attempt > 0 && errors.Is(last, keel.ErrTimeout):
			return // the attempt that timed out made it
		case errors.Is(err, keel.ErrUnhealthy), errors.Is(err, keel.ErrChangeInProgress),
			errors.Is(err, keel.ErrTimeout), errors.Is(err, keel.ErrNoLeader):
		default:
			r.fail("%s through %s: %v", what, s.ID(), err)
		}
		last = err
		r.t.Logf("rolling: %s through %s: %v; retrying", what, s.ID(), err)
		select {
		case <-ctx.Done():
			r.fail("%s: %v (last error: %v)", what, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// leaderPos returns the position of the leader that serves.
func (r *rollingRun) leaderPos() int {
	r.t.Helper()
	return r.c.Index(r.c.Leader())
}

// holdJoin makes the leader hold the next membership change (the join
// about to start) and returns a function that waits until the change is
// held and then lets it go, so that what the test does next overlaps the
// leader's admission of the member.
func (r *rollingRun) holdJoin(l *keel.Store) (waitAndRelease func()) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	l.HoldReconfig(entered, release)
	return func() {
		r.t.Helper()
		select {
		case <-entered:
		case <-time.After(keeltest.WaitLimit):
			r.fail("the join never reached the leader %s", l.ID())
		}
		l.HoldReconfig(nil, nil)
		close(release)
	}
}

// joinAsync starts a join through addrs in a goroutine. wait waits for it
// and returns the new member's position; pending reports whether it is
// still under way.
func (r *rollingRun) joinAsync(addrs []string) (wait func() int, pending func() bool) {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	end := r.rec.BeginFault("join", fmt.Sprint(addrs))
	go func() {
		n, err := r.c.JoinErr(r.joinHook(addrs))
		done <- result{n, err}
	}()
	pending = func() bool { return len(done) == 0 }
	return func() int {
		r.t.Helper()
		res := <-done // JoinErr is bounded by the member's JoinTimeout
		end()
		if res.err != nil {
			r.fail("join member %d: %v", res.n, res.err)
		}
		r.startClients(res.n)
		return res.n
	}, pending
}
