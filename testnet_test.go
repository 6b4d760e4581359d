package keel

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// testNet connects in-process members over loopback TCP through their
// Config.Dial and injects network faults between them. Every connection
// between two members is dialed by one of them, and the dialer's side sees
// both directions of its traffic, so wrapping the dialed connections is
// enough:
//
//   - cut(a, b): no traffic either way: new dials refused, live
//     connections closed.
//   - lose(a, b): traffic from a to b is silently dropped (one-way loss):
//     a's writes on its connections to b and b's reads on its connections
//     to a are discarded. A connection that lost bytes stays lossy until it
//     closes, so a receiver never sees a frame with a hole in it: it just
//     times out, as on a real lossy link.
//   - delay(a, b, d): traffic from a to b arrives d late.
//   - heal(): every rule is lifted (lossy connections stay lossy until
//     the members' timeouts replace them).
//
// testNet is safe for concurrent use.
type testNet struct {
	mu    sync.Mutex
	rules map[[2]string]linkRule // by direction: [from, to]
	conns map[*trackedConn]struct{}
}

type linkRule struct {
	cut   bool
	lose  bool
	delay time.Duration
}

var errPartitioned = errors.New("testnet: partitioned")

func newTestNet() *testNet {
	return &testNet{rules: map[[2]string]linkRule{}, conns: map[*trackedConn]struct{}{}}
}

func (n *testNet) rule(from, to string) linkRule {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rules[[2]string{from, to}]
}

// dialer returns the Dial function of the member whose address is from.
func (n *testNet) dialer(from string) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		if n.rule(from, addr).cut {
			return nil, errPartitioned
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, n: n, from: from, to: addr}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.rules[[2]string{from, addr}].cut {
			c.Close()
			return nil, errPartitioned
		}
		n.conns[tc] = struct{}{}
		return tc, nil
	}
}

func (n *testNet) update(from, to string, f func(*linkRule)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := [2]string{from, to}
	r := n.rules[k]
	f(&r)
	n.rules[k] = r
	if !r.cut {
		return
	}
	for c := range n.conns {
		if (c.from == from && c.to == to) || (c.from == to && c.to == from) {
			c.Conn.Close()
			delete(n.conns, c)
		}
	}
}

// cut blocks traffic between a and b, in both directions.
func (n *testNet) cut(a, b string) {
	n.update(a, b, func(r *linkRule) { r.cut = true })
	n.update(b, a, func(r *linkRule) { r.cut = true })
}

// lose drops the traffic from a to b.
func (n *testNet) lose(a, b string) { n.update(a, b, func(r *linkRule) { r.lose = true }) }

// delay makes the traffic from a to b arrive d late.
func (n *testNet) delay(a, b string, d time.Duration) {
	n.update(a, b, func(r *linkRule) { r.delay = d })
}

// heal lifts every rule.
func (n *testNet) heal() {
	n.mu.Lock()
	clear(n.rules)
	n.mu.Unlock()
}

// trackedConn is the dialer's side of a connection from member from to
// member to.
type trackedConn struct {
	net.Conn
	n        *testNet
	from, to string
	lostTx   atomic.Bool // bytes from->to were dropped: drop all later ones
	lostRx   atomic.Bool // bytes to->from were dropped: drop all later ones
	once     sync.Once
}

func (c *trackedConn) Write(p []byte) (int, error) {
	r := c.n.rule(c.from, c.to)
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

func (c *trackedConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		r := c.n.rule(c.to, c.from)
		if r.lose {
			c.lostRx.Store(true)
		}
		if err != nil || !c.lostRx.Load() {
			if n > 0 && r.delay > 0 {
				time.Sleep(r.delay)
			}
			return n, err
		}
		// Lost: discard and wait for more (or for the deadline/close).
	}
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.n.mu.Lock()
		delete(c.n.conns, c)
		c.n.mu.Unlock()
	})
	return c.Conn.Close()
}
