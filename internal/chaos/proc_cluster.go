package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keeldb/keel"
)

// ClusterConfig configures a Cluster. Zero fields mean the defaults noted.
type ClusterConfig struct {
	// Members is the cluster size; 0 means 3.
	Members int
	// Dir holds each member's data dir ("m<i>/data"), log ("m<i>/member.log")
	// and control address file (required; typically an Artifacts dir).
	Dir string
	// Exe and Args start a member; the member reads its MemberConfig from
	// the EnvMember environment variable (required). Typically the test
	// binary itself with "-test.run=^TestChaosMemberProcess$".
	Exe  string
	Args []string
	// HeartbeatTimeout is every member's keel HeartbeatTimeout; 0 means
	// 250ms.
	HeartbeatTimeout time.Duration
	// StartTimeout bounds a member's start (until its control API
	// answers); 0 means 30s.
	StartTimeout time.Duration
	// Seed picks the members' listen ports.
	Seed int64
	// StaleReads starts every member with MemberConfig.StaleReads (a
	// deliberately broken cluster, for the suite's own tests).
	StaleReads bool
}

// Cluster is a set of member processes on loopback, connected through a
// Network of proxies, driven through their control APIs. Every signal goes
// to a pid it started. Close kills everything. It is safe for concurrent
// use, but faults on one member should come from one goroutine.
type Cluster struct {
	cfg   ClusterConfig
	ids   []string
	addrs []string
	net   *Network
	hc    *http.Client
	tr    *http.Transport

	mu      sync.Mutex
	members []*member
	closed  bool
}

type member struct {
	proc *Process
	ctl  string // control address; "" while down
	runs int    // incarnations started
}

// NewCluster picks listen addresses, starts the proxies and every member
// (fresh data dirs), and returns without waiting for a leader.
func NewCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Members == 0 {
		cfg.Members = 3
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = 250 * time.Millisecond
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.Members < 1 || cfg.Dir == "" || cfg.Exe == "" {
		return nil, fmt.Errorf("%w: cluster config %+v", ErrInvalidArgument, cfg)
	}
	rng := rand.New(rand.NewSource(cfg.Seed))
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	c := &Cluster{cfg: cfg, tr: tr, hc: &http.Client{Transport: tr}}
	for i := 0; i < cfg.Members; i++ {
		addr, err := freePort(rng, c.addrs)
		if err != nil {
			return nil, err
		}
		c.ids = append(c.ids, fmt.Sprintf("m%d", i))
		c.addrs = append(c.addrs, addr)
		c.members = append(c.members, &member{})
	}
	n, err := NewNetwork(c.addrs)
	if err != nil {
		return nil, err
	}
	c.net = n
	for i := range c.members {
		if err := c.Start(ctx, i); err != nil {
			_ = c.Close() // report the start error
			return nil, err
		}
	}
	return c, nil
}

// freePort returns a 127.0.0.1 address with a port outside the usual
// ephemeral range (so outgoing connections cannot take it while a member
// is down), checked free by binding it.
func freePort(rng *rand.Rand, taken []string) (string, error) {
	for range 200 {
		addr := "127.0.0.1:" + strconv.Itoa(20000+rng.Intn(12000))
		dup := false
		for _, t := range taken {
			dup = dup || t == addr
		}
		if dup {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		_ = ln.Close() // only probing
		return addr, nil
	}
	return "", fmt.Errorf("%w: no free port", ErrSetup)
}

// Size returns the number of members.
func (c *Cluster) Size() int { return len(c.ids) }

// ID returns member i's ID.
func (c *Cluster) ID(i int) string { return c.ids[i] }

// Index returns the index of the member with the given ID, or -1.
func (c *Cluster) Index(id string) int {
	for i, x := range c.ids {
		if x == id {
			return i
		}
	}
	return -1
}

// Network returns the cluster's proxies.
func (c *Cluster) Network() *Network { return c.net }

// MemberDir returns member i's directory (data dir, log, control file).
func (c *Cluster) MemberDir(i int) string { return filepath.Join(c.cfg.Dir, c.ids[i]) }

func (c *Cluster) check(i int) error {
	if i < 0 || i >= len(c.ids) {
		return fmt.Errorf("%w: member %d of %d", ErrInvalidArgument, i, len(c.ids))
	}
	return nil
}

func (c *Cluster) ctlAddr(i int) (string, error) {
	if err := c.check(i); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[i]
	if m.proc == nil || m.ctl == "" {
		return "", fmt.Errorf("%w: member %d", ErrMemberDown, i)
	}
	if done, _ := m.proc.Exited(); done {
		return "", fmt.Errorf("%w: member %d exited", ErrMemberDown, i)
	}
	return m.ctl, nil
}

// Start starts member i (on its existing data dir, if any) and waits until
// its control API answers. It fails if the member is already running.
func (c *Cluster) Start(ctx context.Context, i int) error {
	if err := c.check(i); err != nil {
		return err
	}
	c.mu.Lock()
	m := c.members[i]
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("%w: cluster closed", ErrSetup)
	}
	if m.proc != nil {
		if done, _ := m.proc.Exited(); !done {
			c.mu.Unlock()
			return fmt.Errorf("%w: member %d already running", ErrInvalidArgument, i)
		}
	}
	dir := c.MemberDir(i)
	ctlFile := filepath.Join(dir, "ctl.addr")
	peers := make([]keel.Peer, len(c.ids))
	for j := range c.ids {
		peers[j] = keel.Peer{ID: c.ids[j], Addr: c.addrs[j]}
	}
	mc := MemberConfig{ID: c.ids[i], Dir: filepath.Join(dir, "data"), Addr: c.addrs[i], Peers: peers,
		Routes: c.net.Routes(i), HeartbeatTimeout: c.cfg.HeartbeatTimeout,
		LogPath: filepath.Join(dir, "member.log"), CtlAddrFile: ctlFile, StaleReads: c.cfg.StaleReads}
	b, err := json.Marshal(mc)
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	_ = os.Remove(ctlFile) // a stale address from the previous incarnation
	p, err := StartProcess(c.cfg.Exe, c.cfg.Args, []string{EnvMember + "=" + string(b)}, filepath.Join(dir, "process.log"))
	if err != nil {
		c.mu.Unlock()
		return err
	}
	m.proc, m.ctl = p, ""
	m.runs++
	c.mu.Unlock()

	deadline := time.NewTimer(c.cfg.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(ctlFile); err == nil && len(b) > 0 {
			c.mu.Lock()
			if m.proc == p {
				m.ctl = strings.TrimSpace(string(b))
			}
			c.mu.Unlock()
			return nil
		}
		select {
		case <-p.Done():
			_, werr := p.Exited()
			return fmt.Errorf("%w: member %d exited during start: %v (see %s)", ErrSetup, i, werr, filepath.Join(dir, "process.log"))
		case <-deadline.C:
			p.Kill()
			return fmt.Errorf("%w: member %d did not start within %v", ErrSetup, i, c.cfg.StartTimeout)
		case <-ctx.Done():
			p.Kill()
			return fmt.Errorf("%w: member %d start: %w", ErrSetup, i, ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *Cluster) proc(i int) *Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].proc
}

// Running reports whether member i's process is running (possibly
// paused).
func (c *Cluster) Running(i int) bool {
	p := c.proc(i)
	if p == nil {
		return false
	}
	done, _ := p.Exited()
	return !done
}

// Pid returns member i's current pid, or 0 when it is down.
func (c *Cluster) Pid(i int) int {
	if !c.Running(i) {
		return 0
	}
	return c.proc(i).Pid()
}

// Kill sends SIGKILL to member i and waits until it is reaped. It reports
// whether the signal was delivered to a running member.
func (c *Cluster) Kill(i int) bool {
	p := c.proc(i)
	if p == nil {
		return false
	}
	c.tr.CloseIdleConnections()
	return p.Kill()
}

// Pause sends SIGSTOP to member i; it reports whether it was delivered.
func (c *Cluster) Pause(i int) bool {
	p := c.proc(i)
	return p != nil && p.Pause()
}

// Resume sends SIGCONT to member i; it reports whether it was delivered.
func (c *Cluster) Resume(i int) bool {
	p := c.proc(i)
	return p != nil && p.Resume()
}

// Stop stops member i cleanly (SIGTERM, SIGKILL after 10s); it reports
// whether it exited cleanly.
func (c *Cluster) Stop(i int) bool {
	p := c.proc(i)
	if p == nil {
		return false
	}
	return p.Stop(10 * time.Second)
}

// Leader returns the index of the member that every running, reachable
// member names as leader, which itself claims to lead; -1 if there is no
// such agreement.
func (c *Cluster) Leader(ctx context.Context) int {
	leader, seen := "", 0
	for i := range c.ids {
		if !c.Running(i) || c.proc(i).Paused() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := c.Status(sctx, i)
		cancel()
		if err != nil || st.Leader == "" || (leader != "" && st.Leader != leader) {
			return -1
		}
		leader = st.Leader
		seen++
		if st.IsLeader && st.ID != leader {
			return -1
		}
	}
	if seen == 0 {
		return -1
	}
	return c.Index(leader)
}

// WaitLeader polls until Leader agrees on a running member or timeout.
func (c *Cluster) WaitLeader(ctx context.Context, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l := c.Leader(ctx); l >= 0 && c.Running(l) {
			return l, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return -1, fmt.Errorf("%w: within %v", ErrNoLeader, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close resumes and kills every member process, stops the proxies and
// closes idle control connections. It is idempotent.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	procs := make([]*Process, 0, len(c.members))
	for _, m := range c.members {
		if m.proc != nil {
			procs = append(procs, m.proc)
		}
	}
	c.mu.Unlock()
	for _, p := range procs {
		p.Resume()
		p.Kill()
	}
	var err error
	if c.net != nil {
		err = c.net.Close()
	}
	c.tr.CloseIdleConnections()
	return err
}

// CurrentLeader returns the running, unpaused member that claims to lead
// with the highest term, or -1. Unlike Leader it needs no agreement, so
// it works while the cluster is partitioned.
func (c *Cluster) CurrentLeader(ctx context.Context) int {
	best, term := -1, uint64(0)
	for i := range c.ids {
		if !c.Running(i) || c.proc(i).Paused() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := c.Status(sctx, i)
		cancel()
		if err == nil && st.IsLeader && (best < 0 || st.Term > term) {
			best, term = i, st.Term
		}
	}
	return best
}
