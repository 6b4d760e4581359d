package keeltest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// network connects a cluster's members and injects faults between them.
// Every connection between two members is dialed by one of them through
// its Config.Dial, which is this network's dialer, and the dialer's side
// of a connection carries both directions of its traffic; wrapping the
// dialed connections is therefore enough to act on every byte:
//
//   - a cut link refuses new dials and closes its live connections;
//   - a lossy link (one way) silently drops what is sent over it: the
//     sender's writes and the dialer's reads of it are discarded, and a
//     connection that lost bytes stays lossy until it closes, even after
//     the link heals, so the receiver never sees a message with a hole in
//     it, just silence: a black-holed connection, which the members must
//     notice and replace themselves;
//   - a delayed link (one way) delivers what is sent over it late.
//
// A dial to a member that is down is refused, as by a port nobody
// listens on. network is safe for concurrent use.
type network struct {
	ports []*port // by member

	mu       sync.Mutex
	isolated []bool
	rules    map[link]linkRule // by direction
	conns    map[*faultConn]struct{}
}

// link is a direction between two members: traffic from from to to.
type link struct{ from, to int }

type linkRule struct {
	cut   bool
	lose  bool
	delay time.Duration
}

func newNetwork(ports []*port) *network {
	return &network{
		ports: ports, isolated: make([]bool, len(ports)),
		rules: map[link]linkRule{}, conns: map[*faultConn]struct{}{},
	}
}

// add connects one more member, at position len(ports).
func (n *network) add(p *port) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ports = append(n.ports, p)
	n.isolated = append(n.isolated, false)
}

// port returns member i's port.
func (n *network) port(i int) *port {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ports[i]
}

// member returns the member whose address is addr, or -1.
func (n *network) member(addr string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, p := range n.ports {
		if p.addr() == addr {
			return i
		}
	}
	return -1
}

// ruleLocked is the rule of l, with isolation folded in as a cut.
func (n *network) ruleLocked(l link) linkRule {
	r := n.rules[l]
	r.cut = r.cut || n.isolated[l.from] || n.isolated[l.to]
	return r
}

func (n *network) rule(l link) linkRule {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ruleLocked(l)
}

// dialer returns member from's Config.Dial. base, if non-nil, opens the
// underlying connections (the Dial a Config hook set).
func (n *network) dialer(from int, base func(ctx context.Context, addr string) (net.Conn, error)) func(ctx context.Context, addr string) (net.Conn, error) {
	if base == nil {
		var d net.Dialer
		base = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		to := n.member(addr)
		if to < 0 {
			return base(ctx, addr) // not a member of this cluster
		}
		if err := n.refuse(from, to, addr); err != nil {
			return nil, err
		}
		c, err := base(ctx, addr)
		if err != nil {
			return nil, err
		}
		fc := &faultConn{Conn: c, n: n, l: link{from, to}}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.ruleLocked(fc.l).cut {
			_ = c.Close()
			return nil, fmt.Errorf("keeltest: dial %s: %w", addr, ErrPartitioned)
		}
		n.conns[fc] = struct{}{}
		return fc, nil
	}
}

// refuse returns why a dial from member from to member to fails, if it
// does.
func (n *network) refuse(from, to int, addr string) error {
	if n.rule(link{from, to}).cut {
		return fmt.Errorf("keeltest: dial %s: %w", addr, ErrPartitioned)
	}
	if p := n.port(to); !p.up() {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: p.ln.Addr(), Err: syscall.ECONNREFUSED}
	}
	return nil
}

// update changes the rule of link l and closes the connections it cuts.
func (n *network) update(l link, f func(*linkRule)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rules[l]
	f(&r)
	if r == (linkRule{}) {
		delete(n.rules, l)
	} else {
		n.rules[l] = r
	}
	n.settleLocked()
}

// settleLocked closes every connection whose link is cut.
func (n *network) settleLocked() {
	for c := range n.conns {
		if n.ruleLocked(c.l).cut {
			_ = c.Conn.Close()
			delete(n.conns, c)
		}
	}
}

// cut blocks traffic between a and b, both ways.
func (n *network) cut(a, b int) {
	n.update(link{a, b}, func(r *linkRule) { r.cut = true })
	n.update(link{b, a}, func(r *linkRule) { r.cut = true })
}

// isolate cuts member i off from every other member.
func (n *network) isolate(i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[i] = true
	n.settleLocked()
}

// heal lifts member i's isolation and every rule on its links; links to
// members that are themselves isolated stay cut.
func (n *network) heal(i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[i] = false
	for l := range n.rules {
		if l.from == i || l.to == i {
			delete(n.rules, l)
		}
	}
	n.settleLocked()
}

// healAll lifts every rule and every isolation.
func (n *network) healAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.isolated)
	clear(n.rules)
	n.settleLocked()
}

// faultConn is the dialer's side of a connection on link l (the dialer is
// l.from).
type faultConn struct {
	net.Conn
	n      *network
	l      link
	lostTx atomic.Bool // bytes from->to were dropped: drop all later ones
	lostRx atomic.Bool // bytes to->from were dropped: drop all later ones
	once   sync.Once
}

func (c *faultConn) Write(p []byte) (int, error) {
	r := c.n.rule(c.l)
	if r.lose {
		c.lostTx.Store(true)
	}
	if c.lostTx.Load() {
		return len(p), nil
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	return c.Conn.Write(p)
}

func (c *faultConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		r := c.n.rule(link{c.l.to, c.l.from})
		if r.lose {
			c.lostRx.Store(true)
		}
		if c.lostRx.Load() {
			if err != nil {
				return 0, err
			}
			continue // lost: discard, and wait for more (or the deadline or close)
		}
		if n > 0 && r.delay > 0 {
			time.Sleep(r.delay)
		}
		return n, err
	}
}

func (c *faultConn) Close() error {
	c.once.Do(func() {
		c.n.mu.Lock()
		delete(c.n.conns, c)
		c.n.mu.Unlock()
	})
	return c.Conn.Close()
}
