package keeltest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/testhook"
)

// Cluster is n Keel members in this process, on loopback TCP, each with
// its own data directory and a fixed address, connected through a network
// that can cut, lose and delay their traffic. Members are addressed by
// position, 0 to n-1; member i's ID is "m<i>". A stopped or crashed member
// keeps its position, Dir and address until it restarts.
//
// A Cluster is safe for concurrent use, except that the faults of one
// member (Stop, Restart, Crash) must not race with each other.
type Cluster struct {
	tb    testing.TB
	ports []*port
	net   *network

	mu     sync.Mutex
	cfgs   []keel.Config // as member i starts, minus Listener, Dial and TestHooks
	stores []*keel.Store // nil while stopped
	hooks  []*testhook.Hooks
	closed bool
}

// NewCluster starts an n-member cluster and waits until it has a leader
// that serves. Each member's Dir is a directory of tb.TempDir(). With n == 1
// it is a single-member cluster (no Peers), which elects itself at once.
// tb.Cleanup closes every member and releases the addresses, leaving no
// goroutine behind. NewCluster fails tb if a member cannot start or no
// leader serves within WaitLimit.
func NewCluster(tb testing.TB, n int, opts ...Option) *Cluster {
	tb.Helper()
	if n < 1 {
		tb.Fatalf("keeltest: a cluster needs at least one member, not %d", n)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	c := &Cluster{
		tb: tb, cfgs: make([]keel.Config, n), stores: make([]*keel.Store, n),
		hooks: make([]*testhook.Hooks, n),
	}
	// The directories first: cleanups run last registered first, so they
	// are removed only after c.close has stopped the members.
	dirs := make([]string, n)
	for i := range n {
		dirs[i] = tb.TempDir()
	}
	tb.Cleanup(c.close) // before anything starts: it also covers a failed start
	peers := make([]keel.Peer, n)
	for i := range n {
		p, err := bindPort()
		if err != nil {
			tb.Fatalf("keeltest: bind member %d: %v", i, err)
		}
		c.ports = append(c.ports, p)
		peers[i] = keel.Peer{ID: fmt.Sprintf("m%d", i), Addr: p.addr()}
	}
	c.net = newNetwork(slices.Clone(c.ports))
	var clusterPeers []keel.Peer // none for a single member
	if n > 1 {
		clusterPeers = peers
	}
	for i := range n {
		cfg := keel.Config{Dir: dirs[i], Logger: testLogger(peers[i].ID), ClusterToken: ClusterToken}
		if n > 1 {
			cfg.HeartbeatTimeout = HeartbeatTimeout
		}
		cfg.ID, cfg.Addr, cfg.Peers = peers[i].ID, peers[i].Addr, clusterPeers
		for _, hook := range o.configs {
			hook(i, &cfg)
		}
		if n > 1 && cfg.LeaderLeaseTimeout == 0 {
			cfg.LeaderLeaseTimeout = cfg.HeartbeatTimeout
		}
		cfg.ID, cfg.Addr, cfg.Peers = peers[i].ID, peers[i].Addr, clusterPeers // not the hooks' to change
		c.cfgs[i] = cfg
	}
	for i := range n {
		if o.backup != nil {
			if err := keel.RestoreMember(bytes.NewReader(o.backup), c.cfgs[i]); err != nil {
				tb.Fatalf("keeltest: restore member %d: %v", i, err)
			}
		}
		c.start(i)
	}
	if _, err := c.waitLeader(); err != nil {
		tb.Fatalf("keeltest: new cluster: %v", err)
	}
	return c
}

// start opens member i on its Config, its address and the cluster's
// network, failing tb if it cannot.
func (c *Cluster) start(i int) {
	c.tb.Helper()
	if err := c.open(i); err != nil {
		c.tb.Fatalf("keeltest: start member %d: %v", i, err)
	}
}

// open opens member i on its Config, its address and the cluster's
// network.
func (c *Cluster) open(i int) error {
	c.mu.Lock()
	cfg, p := c.cfgs[i], c.ports[i]
	c.mu.Unlock()
	ln := p.listen()
	if ln == nil {
		return fmt.Errorf("its address is in use (a Listen listener is open)")
	}
	hooks := &testhook.Hooks{}
	cfg.Listener, cfg.TestHooks = ln, hooks
	cfg.Dial = c.net.dialer(i, cfg.Dial)
	s, err := keel.Open(cfg)
	if err != nil {
		_ = ln.Close() // Open closes it only once it got that far
		return err
	}
	c.mu.Lock()
	c.stores[i], c.hooks[i] = s, hooks
	c.mu.Unlock()
	return nil
}

// take removes member i from the running members and returns it, failing
// tb if it is not running.
func (c *Cluster) take(i int) (*keel.Store, *testhook.Hooks) {
	c.tb.Helper()
	c.check(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	s, h := c.stores[i], c.hooks[i]
	if s == nil {
		c.tb.Fatalf("keeltest: member %d is not running", i)
	}
	c.stores[i], c.hooks[i] = nil, nil
	return s, h
}

func (c *Cluster) check(i int) {
	c.tb.Helper()
	c.mu.Lock()
	n := len(c.ports)
	c.mu.Unlock()
	if i < 0 || i >= n {
		c.tb.Fatalf("keeltest: no member %d in a cluster of %d", i, n)
	}
}

// Members returns the members by position; a stopped member's entry is
// nil. The slice is the caller's.
func (c *Cluster) Members() []*keel.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*keel.Store(nil), c.stores...)
}

// Member returns member i, or nil while it is stopped.
func (c *Cluster) Member(i int) *keel.Store {
	c.tb.Helper()
	c.check(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stores[i]
}

// Index returns the position of s among the running members, or -1.
func (c *Cluster) Index(s *keel.Store) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.stores {
		if m != nil && m == s {
			return i
		}
	}
	return -1
}

// Config returns the Config member i starts with (Listener, Dial and
// TestHooks aside, which the cluster sets at each start).
func (c *Cluster) Config(i int) keel.Config {
	c.tb.Helper()
	c.check(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfgs[i]
}

// Leader returns the member that leads and serves, waiting up to
// WaitLimit for one; it fails tb if none does. Call it from the test's
// goroutine; elsewhere use WaitLeader.
func (c *Cluster) Leader() *keel.Store {
	c.tb.Helper()
	l, err := c.waitLeader()
	if err != nil {
		c.tb.Fatalf("keeltest: %v", err)
	}
	return l
}

// Follower returns a running member other than the leader (see Leader),
// failing tb if there is none.
func (c *Cluster) Follower() *keel.Store {
	c.tb.Helper()
	l := c.Leader()
	for _, s := range c.Members() {
		if s != nil && s != l {
			return s
		}
	}
	c.tb.Fatalf("keeltest: no running follower")
	return nil
}

func (c *Cluster) waitLeader() (*keel.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	return c.WaitLeader(ctx)
}

// WaitLeader waits until a running member leads and serves: it leads and
// has answered a linearizable read, which it can do only once its
// leadership is established (its first entry of the term committed) and
// confirmed by a quorum. It returns that member, or ctx's error.
func (c *Cluster) WaitLeader(ctx context.Context) (*keel.Store, error) {
	for {
		for _, s := range c.Members() {
			if s == nil || !s.IsLeader() {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := s.Get(rctx, "keeltest/leader", keel.WithCountOnly())
			cancel()
			if err == nil && s.IsLeader() {
				return s, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("keeltest: no leader serves: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitConverged waits until every running member has applied the same raft
// entries, then checks that they report the same revision, compaction
// revision, key history hash (HashKV) and leases. It returns ErrDiverged
// if they do not, and ctx's error if the members do not catch up in time.
// Let writes settle first: entries that keep arriving (a running
// workload) can keep members from ever showing the same applied index at
// once.
func (c *Cluster) WaitConverged(ctx context.Context) error {
	l, err := c.WaitLeader(ctx)
	if err != nil {
		return err
	}
	// A linearizable read on every member makes it apply everything the
	// leader had committed when the read started.
	for _, s := range c.Members() {
		if s == nil {
			continue
		}
		if _, err := s.Get(ctx, "keeltest/converged", keel.WithCountOnly()); err != nil {
			return fmt.Errorf("keeltest: member %s: %w", s.ID(), err)
		}
	}
	for {
		members := c.Members()
		before, same := applied(ctx, members)
		if same {
			var states []memberState
			for _, s := range members {
				if s == nil {
					continue
				}
				st, err := stateOf(ctx, s)
				if err != nil {
					return fmt.Errorf("keeltest: member %s: %w", s.ID(), err)
				}
				states = append(states, st)
			}
			// The states compare equal only if nothing was applied while
			// they were taken.
			if after, same := applied(ctx, members); same && after == before {
				for _, st := range states[1:] {
					if !st.equal(states[0]) {
						return fmt.Errorf("%w: at raft index %d: %v, %v", ErrDiverged, after, states[0], st)
					}
				}
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("keeltest: members did not converge (leader %s): %w", l.ID(), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// memberState is what WaitConverged compares: the key history's hash
// (HashKV) and the lease IDs, which the key hash does not cover.
type memberState struct {
	hash   *keel.HashKVResponse
	leases []keel.LeaseID
}

func stateOf(ctx context.Context, s *keel.Store) (memberState, error) {
	h, err := s.HashKV(ctx, "", 0)
	if err != nil {
		return memberState{}, err
	}
	ls, err := s.Leases(ctx)
	if err != nil {
		return memberState{}, err
	}
	st := memberState{hash: h}
	for _, l := range ls.Leases {
		st.leases = append(st.leases, l.ID)
	}
	slices.Sort(st.leases)
	return st, nil
}

func (st memberState) equal(o memberState) bool {
	return st.hash.Hash == o.hash.Hash && st.hash.HashRevision == o.hash.HashRevision &&
		st.hash.CompactRevision == o.hash.CompactRevision && slices.Equal(st.leases, o.leases)
}

func (st memberState) String() string {
	leases := fmt.Sprint(st.leases)
	if len(st.leases) > 8 {
		leases = fmt.Sprint(st.leases[:8], "...")
	}
	return fmt.Sprintf("member %d: hash %08x at revision %d (compacted to %d), %d leases %s",
		st.hash.Header.MemberId, st.hash.Hash, st.hash.HashRevision, st.hash.CompactRevision, len(st.leases), leases)
}

// applied returns the applied raft index of the running members and
// whether they all report the same one.
func applied(ctx context.Context, members []*keel.Store) (uint64, bool) {
	var idx uint64
	first := true
	for _, s := range members {
		if s == nil {
			continue
		}
		st, err := s.Status(ctx, "")
		if err != nil {
			return 0, false
		}
		if !first && st.RaftAppliedIndex != idx {
			return 0, false
		}
		idx, first = st.RaftAppliedIndex, false
	}
	return idx, true
}

// Stop closes member i gracefully, as Store.Close does: a leader hands
// leadership to another voter first. It fails tb if the member is not
// running or Close fails.
func (c *Cluster) Stop(i int) {
	c.tb.Helper()
	s, _ := c.take(i)
	if err := s.Close(); err != nil {
		c.tb.Fatalf("keeltest: stop member %d: %v", i, err)
	}
}

// Crash stops member i as a killed process would stop: no leadership
// hand-over (the others notice only when its heartbeats stop), the
// key-value database loses the changes it had not committed yet (Keel
// commits them in batches; the raft log replays them on restart), and the
// raft log is closed without a final sync. Writes the log had handed to
// the operating system survive, as they do when a process is killed; to
// model a power loss as well, give the members a Config.WALFS that can
// drop unsynced writes. Crash fails tb if the member is not running.
func (c *Cluster) Crash(i int) {
	c.tb.Helper()
	_, h := c.take(i)
	if err := h.Crash(); err != nil {
		// A member whose storage failed (a fault a test injected) may
		// report it again on the way down; the crash happened all the same.
		c.tb.Logf("keeltest: crash member %d: %v", i, err)
	}
}

// Restart starts member i again on its Dir and address, after stopping it
// (Stop) if it is running. Open returns once its raft node runs; it may
// still be catching up. Restart fails tb if the member cannot start.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	if c.Member(i) != nil {
		c.Stop(i)
	}
	c.start(i)
}

// Listen returns a listener on stopped member i's address, for a test
// that puts something else there (say, a member of another cluster): the
// other members reach whatever accepts on it. Close it before Restart(i).
// Listen fails tb if member i is running or the address is in use.
func (c *Cluster) Listen(i int) net.Listener {
	c.tb.Helper()
	if c.Member(i) != nil {
		c.tb.Fatalf("keeltest: listen on member %d's address: the member is running", i)
	}
	ln := c.net.port(i).listen()
	if ln == nil {
		c.tb.Fatalf("keeltest: listen on member %d's address: in use", i)
	}
	return ln
}

// Isolate cuts member i off from every other member, both ways: its dials
// and theirs to it are refused and their live connections closed, until
// Heal(i) or HealAll.
func (c *Cluster) Isolate(i int) {
	c.tb.Helper()
	c.check(i)
	c.net.isolate(i)
}

// Heal lifts member i's isolation and every fault on its links (Cut, Lose,
// Delay); a link to a member that is itself isolated stays cut.
func (c *Cluster) Heal(i int) {
	c.tb.Helper()
	c.check(i)
	c.net.heal(i)
}

// HealAll lifts every network fault.
func (c *Cluster) HealAll() { c.net.healAll() }

// Cut blocks the traffic between members i and j, both ways, until Heal of
// either or HealAll.
func (c *Cluster) Cut(i, j int) {
	c.tb.Helper()
	c.check(i)
	c.check(j)
	c.net.cut(i, j)
}

// Lose silently drops the traffic from member from to member to (one-way
// loss; the other direction flows), until Heal of either or HealAll. A
// connection that lost bytes stays silent in that direction until it
// closes, even after healing, so a receiver sees silence, never a message
// with a hole in it: the members must notice the black-holed connection
// and replace it, as they must on a real network when a middlebox drops a
// connection's state. Connections opened after healing flow.
func (c *Cluster) Lose(from, to int) {
	c.tb.Helper()
	c.check(from)
	c.check(to)
	c.net.update(link{from, to}, func(r *linkRule) { r.lose = true })
}

// Delay makes the traffic from member from to member to arrive d late,
// until Heal of either or HealAll.
func (c *Cluster) Delay(from, to int, d time.Duration) {
	c.tb.Helper()
	c.check(from)
	c.check(to)
	c.net.update(link{from, to}, func(r *linkRule) { r.delay = d })
}

// close stops every running member and releases the addresses (tb's
// cleanup). Members close in parallel, so that no member waits out an
// election timeout for peers that are already gone.
func (c *Cluster) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	stores := c.stores
	c.stores = make([]*keel.Store, len(stores))
	c.mu.Unlock()
	var wg sync.WaitGroup
	for i, s := range stores {
		if s != nil {
			wg.Go(func() {
				if err := s.Close(); err != nil {
					c.tb.Errorf("keeltest: close member %d: %v", i, err)
				}
			})
		}
	}
	wg.Wait()
	c.mu.Lock()
	ports := c.ports
	c.mu.Unlock()
	for _, p := range ports {
		p.close()
	}
}
