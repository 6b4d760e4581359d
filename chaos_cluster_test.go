package keel_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/chaos"
	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/keeltest"
)

// chaosCluster is a keeltest cluster whose members' raft logs live on
// fault-injecting file systems, for the disk faults and for crashes that
// lose what a log had not fsynced, and whose membership changes while it
// runs. It keeps its own record of each position (chaosMember): faults
// and changes pick their members from it, never from positions keeltest
// has but the record does not (a join under way).
//
// Faults that stop or start members are injected and healed on the test's
// goroutine, as keeltest's Stop and Restart fail the test when they fail;
// the changes run on their own goroutine and only crash and forget
// members there (which cannot fail the test), asking the test's goroutine
// for restarts (restartSoon). life serialises all of these, as keeltest's
// Stop, Restart and Crash of one member must not race; the Flap goroutine
// only isolates and heals.
type chaosCluster struct {
	*keeltest.Cluster
	tb  testing.TB
	dir string

	life sync.Mutex // held while a member is crashed, stopped, restarted or forgotten
	wake chan struct{}

	mu        sync.Mutex
	members   []*chaosMember // by position
	logs      []*os.File
	faultsNow []chaos.FaultKind // the faults injected now
	anomalies []string          // what the membership did that no change explains
	// duplicates describes the members Keel recorded twice (see
	// duplicate), a known issue the run tolerates unless chaosStrict.
	duplicates []string

	changes chaos.ChangeLog // the results of the run's changes

	// seed seeds the power cuts (with crashes, their number so far);
	// inFsync counts the cuts that landed in a log fsync, reordered those
	// that persisted a later unsynced page of a file but not an earlier
	// one. Guarded by life.
	seed      int64
	crashes   int
	inFsync   int
	reordered int
}

// chaosMemberState is where a position is in its life.
type chaosMemberState int

const (
	// chaosActive: a member of the cluster (running, or down for a while).
	chaosActive chaosMemberState = iota
	// chaosPhantom: a join that failed; the cluster may still list it
	// (as a learner nobody runs) until the end of the run removes it.
	chaosPhantom
	// chaosGone: it left or was removed, and keeltest forgot it.
	chaosGone
)

// chaosMember is the harness's record of one position. Its fields are
// guarded by chaosCluster.mu.
type chaosMember struct {
	name string
	id   uint64 // keel's member ID, once known
	fs   *faultfs.FS
	log  *slog.Logger

	state chaosMemberState
	// voter: counted as a voter by the membership bounds (a first member,
	// a promoted join). learner: a permanent learner not promoted yet.
	voter, learner bool
	// busy: a change acts on it, so no fault picks it. held: a fault
	// holds it down until the fault heals. restart: a change asked the
	// test's goroutine to restart it.
	busy, held, restart bool
	// maybeRemoved and maybePromoted: a change whose outcome was unknown
	// may have removed or promoted it, and may still complete.
	maybeRemoved, maybePromoted bool
	// dup is the ID the cluster lists it under when that is not its own
	// (see duplicate); no change or fault picks it.
	dup uint64
}

// newChaosCluster starts n members whose data dirs and logs live in dir
// (the run's artifacts directory, kept when the run fails).
func newChaosCluster(tb testing.TB, n int, dir string) *chaosCluster {
	tb.Helper()
	c := &chaosCluster{tb: tb, dir: dir, wake: make(chan struct{}, 1)}
	// Registered before the cluster's cleanup, so it runs after the
	// members (the ones that join later too) have closed.
	tb.Cleanup(c.closeLogs)
	for i := range n {
		m, err := c.newMember(fmt.Sprintf("m%d", i)) // keeltest's ID of member i
		require.NoError(tb, err)
		m.voter = true
		c.members = append(c.members, m)
	}
	c.Cluster = keeltest.NewCluster(tb, n, keeltest.WithConfig(func(i int, cfg *keel.Config) {
		c.configure(cfg, c.members[i])
	}))
	for i, m := range c.members {
		m.id = c.Member(i).MemberID()
	}
	return c
}

// newMember returns the record of a member named name, with its file
// system and a logger writing to name.log in the run's directory.
func (c *chaosCluster) newMember(name string) (*chaosMember, error) {
	logf, err := os.Create(filepath.Join(c.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.logs = append(c.logs, logf)
	c.mu.Unlock()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo})).With("m", name)
	return &chaosMember{name: name, fs: faultfs.New(), log: log}, nil
}

func (c *chaosCluster) closeLogs() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.logs {
		_ = f.Close()
	}
}

// configure sets what every member of a chaos cluster shares.
func (c *chaosCluster) configure(cfg *keel.Config, m *chaosMember) {
	cfg.Dir = filepath.Join(c.dir, cfg.ID)
	if os.Getenv("KEEL_TEST_LOG") == "" { // else keeltest logs to stderr
		cfg.Logger = m.log
	}
	cfg.HeartbeatTimeout = 150 * time.Millisecond
	cfg.WALFS, cfg.WALSegmentSize = m.fs, 256<<10
}

// record returns the record of position i.
func (c *chaosCluster) record(i int) *chaosMember {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i]
}

// positions returns the positions whose record satisfies keep, in order.
func (c *chaosCluster) positions(keep func(i int, m *chaosMember) bool) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, m := range c.members {
		if keep(i, m) {
			out = append(out, i)
		}
	}
	return out
}

// running reports whether position i has a member running (not stopped
// by itself either).
func (c *chaosCluster) running(i int) bool {
	s := c.Member(i)
	return s != nil && s.Err() == nil
}

// active returns the positions of the cluster's members, running or not.
func (c *chaosCluster) active() []int {
	return c.positions(func(_ int, m *chaosMember) bool { return m.state == chaosActive })
}

// up returns the positions of the members that run now.
func (c *chaosCluster) up() []int {
	return c.positions(func(i int, m *chaosMember) bool { return m.state == chaosActive && c.Member(i) != nil })
}

// faultTargets returns the positions a fault may pick: running members
// no change acts on.
func (c *chaosCluster) faultTargets() []int {
	return c.positions(func(i int, m *chaosMember) bool {
		return m.state == chaosActive && !m.busy && m.dup == 0 && c.Member(i) != nil
	})
}

// slot maps a client's slot to a member's position: clients spread over
// the members as they are now, the ones that joined too.
func (c *chaosCluster) slot(n int) int {
	act := c.active()
	if len(act) == 0 {
		return -1
	}
	return act[n%len(act)]
}

// restart reopens member i on its data and address if it is stopped and
// still a member no change acts on; it runs on the test's goroutine.
func (c *chaosCluster) restart(i int) {
	c.life.Lock()
	defer c.life.Unlock()
	m := c.record(i)
	c.mu.Lock()
	ok := m.state == chaosActive && !m.busy
	m.restart = false
	c.mu.Unlock()
	if ok && c.Member(i) == nil {
		c.Restart(i)
	}
}

// restartSoon asks the test's goroutine to restart member i unless a
// fault holds it down (that fault's heal restarts it).
func (c *chaosCluster) restartSoon(i int) {
	c.mu.Lock()
	m := c.members[i]
	m.restart = !m.held
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// serveRestarts restarts the members changes asked for (restartSoon); it
// runs on the test's goroutine.
func (c *chaosCluster) serveRestarts() {
	for _, i := range c.positions(func(_ int, m *chaosMember) bool { return m.restart && !m.held }) {
		c.restart(i)
	}
}

// sleep waits d on the test's goroutine, serving restarts meanwhile.
func (c *chaosCluster) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case <-c.wake:
			c.serveRestarts()
		}
	}
}

// kill stops member i as a killed process would; lose also cuts the
// power of its raft log's disk: of the pages it had not fsynced, a random
// subset persists, in any order (faultfs.TornPages). The caller holds life.
func (c *chaosCluster) kill(i int, lose bool) {
	if c.Member(i) == nil {
		return
	}
	m := c.record(i)
	if lose {
		c.powerCut(i, m.fs)
	} else {
		c.Crash(i)
	}
	m.fs.ClearFaults()
	m.fs.SetSyncDelay(0)
}

// powerCut crashes member i and its raft log's disk fsys. The cut lands
// in the member's next log fsync if one starts within powerCutWait (under
// load one does), so it catches unsynced pages as a cut during writes
// would; the member sees that fsync fail, fail-stops and is crashed. With
// no fsync in time (or a member already fail-stopped) the cut follows the
// crash. The caller holds life.
func (c *chaosCluster) powerCut(i int, fsys *faultfs.FS) {
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

// hold marks member i as held down by a fault; release ends that and
// restarts it (if it is still a member and no change acts on it).
func (c *chaosCluster) hold(i int) {
	c.mu.Lock()
	c.members[i].held = true
	c.mu.Unlock()
}

func (c *chaosCluster) release(i int) {
	c.mu.Lock()
	c.members[i].held = false
	c.mu.Unlock()
	c.restart(i)
}

// leaderOr returns the leader, waiting a little for one (an election may be
// under way); with none, or one a change acts on, it falls back to another
// target, so that every scheduled fault is injected.
func (c *chaosCluster) leaderOr(fallback func() int) int {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if l := c.leader(); l >= 0 && slices.Contains(c.faultTargets(), l) {
			return l
		}
	}
	return fallback()
}

// leader returns the position of a running leader among the members, or
// -1.
func (c *chaosCluster) leader() int {
	for _, i := range c.up() {
		if s := c.Member(i); s != nil && s.IsLeader() {
			return i
		}
	}
	return -1
}

// faultBegan and faultEnded track the faults injected now, which the
// changes report.
func (c *chaosCluster) faultBegan(k chaos.FaultKind) {
	c.mu.Lock()
	c.faultsNow = append(c.faultsNow, k)
	c.mu.Unlock()
}

func (c *chaosCluster) faultEnded(k chaos.FaultKind) {
	c.mu.Lock()
	if i := slices.Index(c.faultsNow, k); i >= 0 {
		c.faultsNow = slices.Delete(c.faultsNow, i, i+1)
	}
	c.mu.Unlock()
}

func (c *chaosCluster) injectedNow() []chaos.FaultKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.faultsNow)
}

// anomaly records something the membership did that no change explains;
// the run fails on it.
func (c *chaosCluster) anomaly(format string, args ...any) {
	c.mu.Lock()
	c.anomalies = append(c.anomalies, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// anomalySnapshot returns the anomalies recorded so far, and the
// duplicate member records.
func (c *chaosCluster) anomalySnapshot() (anomalies, duplicates []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.anomalies), slices.Clone(c.duplicates)
}

// memberKV is a keel.KV on the member a client's slot maps to now (slot);
// while that member is down, calls fail with keel.ErrStopped (a definite
// failure).
type memberKV struct {
	c    *chaosCluster
	slot int
}

var _ keel.KV = memberKV{}

func (m memberKV) store() (*keel.Store, error) {
	if i := m.c.slot(m.slot); i >= 0 {
		if s := m.c.Member(i); s != nil {
			return s, nil
		}
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

func (m memberKV) GetStream(ctx context.Context, key string, opts ...keel.OpOption) (keel.GetStreamChan, error) {
	s, err := m.store()
	if err != nil {
		return nil, err
	}
	return s.GetStream(ctx, key, opts...)
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
