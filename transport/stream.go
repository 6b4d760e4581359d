package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

var _ raft.StreamLayer = (*streamLayer)(nil)

// streamLayer is the raft.StreamLayer over the shared listener: Accept
// yields connections whose header byte was 'R', Dial writes 'R'. Closing it
// (raft's NetworkTransport.Close does) makes Accept fail but leaves the
// shared listener open; only Transport.Close closes that. It is safe for
// concurrent use.
type streamLayer struct {
	t        *Transport
	ch       chan net.Conn // unbuffered handoff from handleConn
	done     chan struct{} // closed by Close
	once     sync.Once
	accepts  sync.WaitGroup // Accept calls in progress
	acceptMu sync.Mutex     // orders accepts.Add before accepts.Wait
	stopped  bool
}

func newStreamLayer(t *Transport) *streamLayer {
	return &streamLayer{t: t, ch: make(chan net.Conn), done: make(chan struct{})}
}

// handoff passes an accepted raft connection to Accept; false means the
// stream layer or the transport is closed.
func (s *streamLayer) handoff(c net.Conn) bool {
	select {
	case s.ch <- c:
		return true
	case <-s.done:
		return false
	case <-s.t.ctx.Done():
		return false
	}
}

// Accept implements net.Listener. It returns net.ErrClosed once closed.
func (s *streamLayer) Accept() (net.Conn, error) {
	s.acceptMu.Lock()
	if s.stopped {
		s.acceptMu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrClosed, net.ErrClosed)
	}
	s.accepts.Add(1)
	s.acceptMu.Unlock()
	defer s.accepts.Done()
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.done:
		return nil, fmt.Errorf("%w: %w", ErrClosed, net.ErrClosed)
	}
}

// Close implements net.Listener: it stops Accept, not the shared listener.
func (s *streamLayer) Close() error {
	s.once.Do(func() {
		s.acceptMu.Lock()
		s.stopped = true
		s.acceptMu.Unlock()
		close(s.done)
	})
	return nil
}

// wait blocks until no Accept call is in progress; call after Close.
func (s *streamLayer) wait() {
	_ = s.Close()
	s.accepts.Wait()
}

// Addr implements net.Listener: the advertised address.
func (s *streamLayer) Addr() net.Addr { return advertisedAddr(s.t.advertise) }

// Dial implements raft.StreamLayer.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.t.dial(ctx, string(address), headerRaft)
}

// advertisedAddr is a net.Addr for an advertised "host:port".
type advertisedAddr string

// Network implements net.Addr.
func (a advertisedAddr) Network() string { return "tcp" }

// String implements net.Addr.
func (a advertisedAddr) String() string { return string(a) }
