package keeltest

import (
	"errors"
	"net"
	"sync"
	"time"
)

// port is member i's address, bound for the cluster's whole life, so that
// a stopped member's address can never be taken by anything else in the
// process (another test's cluster, say) and Restart always gets it back.
// One goroutine accepts on it and hands each connection to whoever
// listens on the address now: the running member, or a Cluster.Listen
// caller. While nobody does, connections are closed at once; the
// cluster's own dialers do not even get that far (network.dial refuses
// them), as with a port nobody listens on.
type port struct {
	ln   net.Listener
	done sync.WaitGroup

	mu  sync.Mutex
	cur *portListener // nil while nobody listens
}

// bindPort binds a free loopback port and starts accepting on it.
func bindPort() (*port, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &port{ln: ln}
	p.done.Go(p.acceptLoop)
	return p, nil
}

func (p *port) addr() string { return p.ln.Addr().String() }

func (p *port) acceptLoop() {
	var delay time.Duration
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure (out of file descriptors): back off.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if l := p.listener(); l == nil || !l.deliver(c) {
			_ = c.Close()
		}
	}
}

func (p *port) listener() *portListener {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// up reports whether somebody listens on the address.
func (p *port) up() bool { return p.listener() != nil }

// listen returns a listener for the address, or nil if somebody already
// listens on it.
func (p *port) listen() *portListener {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		return nil
	}
	p.cur = &portListener{p: p, conns: make(chan net.Conn), closed: make(chan struct{})}
	return p.cur
}

// close unbinds the address and waits for the accept loop to end.
func (p *port) close() {
	_ = p.ln.Close()
	p.done.Wait()
}

// portListener is one listener's view of a port: what a member gets as
// its Config.Listener. Closing it leaves the port bound.
type portListener struct {
	p      *port
	conns  chan net.Conn // unbuffered: no connection is left behind on Close
	closed chan struct{}
	once   sync.Once
}

var _ net.Listener = (*portListener)(nil)

// deliver hands c to Accept; false if the listener closed first.
func (l *portListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

// Accept waits for the next connection; after Close it fails with
// net.ErrClosed, as a closed TCP listener does.
func (l *portListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and frees the address for the next listener. It
// is idempotent.
func (l *portListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.p.mu.Lock()
		if l.p.cur == l {
			l.p.cur = nil
		}
		l.p.mu.Unlock()
	})
	return nil
}

// Addr returns the port's address.
func (l *portListener) Addr() net.Addr { return l.p.ln.Addr() }
