package chaos

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a loopback TCP proxy for one directed link i→j: member i dials
// the proxy, which forwards to member j's listen address. Bytes flowing
// from the initiator to the target ("tx") and back ("rx") can be dropped
// independently, delayed, or the link cut.
//
// Dropping is per connection and sticky: once a direction of a connection
// dropped bytes, it keeps dropping until the connection closes, so the
// receiver never sees a torn frame followed by valid bytes. Heal closes
// such connections (as a real network would reset them) so the members
// reconnect.
//
// A Proxy is safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	dropTx, dropRx atomic.Bool
	cut            atomic.Bool
	delay          atomic.Int64 // nanoseconds per chunk

	dropped atomic.Int64 // chunks dropped
	refused atomic.Int64 // connections refused or closed by a cut

	mu     sync.Mutex
	conns  map[*proxyConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

type proxyConn struct {
	client, server net.Conn
	tainted        atomic.Bool
}

func (c *proxyConn) close() {
	_ = c.client.Close() // closing both ends is enough to stop the copiers
	_ = c.server.Close()
}

// NewProxy listens on 127.0.0.1:0 and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%w: proxy listen: %w", ErrSetup, err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address the initiator dials.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDrop makes the proxy drop bytes from the initiator to the target
// (tx) and from the target to the initiator (rx). Turning a direction off
// does not revive connections that already dropped bytes; Heal closes them.
func (p *Proxy) SetDrop(tx, rx bool) {
	p.dropTx.Store(tx)
	p.dropRx.Store(rx)
}

// SetCut refuses new connections and closes existing ones while on.
func (p *Proxy) SetCut(on bool) {
	p.cut.Store(on)
	if on {
		p.mu.Lock()
		for c := range p.conns {
			c.close()
			p.refused.Add(1)
		}
		p.mu.Unlock()
	}
}

// SetDelay delays every forwarded chunk by d (0 = none).
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Heal clears every fault and closes the connections that dropped bytes.
func (p *Proxy) Heal() {
	p.SetDrop(false, false)
	p.SetDelay(0)
	p.cut.Store(false)
	p.mu.Lock()
	for c := range p.conns {
		if c.tainted.Load() {
			c.close()
		}
	}
	p.mu.Unlock()
}

// Dropped returns the number of chunks dropped so far.
func (p *Proxy) Dropped() int64 { return p.dropped.Load() }

// Refused returns the number of connections refused or closed by a cut.
func (p *Proxy) Refused() int64 { return p.refused.Load() }

// Close stops the proxy, closes every connection and waits for its
// goroutines. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	err := p.ln.Close()
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // transient accept error
			continue
		}
		if p.cut.Load() {
			p.refused.Add(1)
			_ = client.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		_ = client.Close() // target down: the initiator sees a closed conn
		return
	}
	c := &proxyConn{client: client, server: server}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(c, server, client, &p.dropTx) }()
	go func() { defer wg.Done(); p.pipe(c, client, server, &p.dropRx) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pipe copies src to dst, dropping chunks while drop is set (and forever
// after the first drop on this direction).
func (p *Proxy) pipe(c *proxyConn, dst io.Writer, src net.Conn, drop *atomic.Bool) {
	defer c.close()
	buf := make([]byte, 32<<10)
	dropping := false
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if drop.Load() || dropping {
				dropping = true
				c.tainted.Store(true)
				p.dropped.Add(1)
			} else {
				if d := time.Duration(p.delay.Load()); d > 0 {
					time.Sleep(d)
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
