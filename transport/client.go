package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// connsPerPeer is how many pipelined RPC connections a Transport keeps to
// each peer; calls are spread over them round-robin.
const connsPerPeer = 2

// errConnDead marks a call refused because its connection had already
// failed; Call then retries once on a fresh connection.
var errConnDead = errors.New("transport: connection already failed")

// sendQueueLen bounds the frames waiting for a connection's writer.
const sendQueueLen = 256

// Call sends req to the Handler of the member listening at addr and returns
// its response. Many concurrent Calls to one peer share a few persistent
// connections; a failed connection is redialed by the next Call.
//
// Errors, all checked with errors.Is:
//   - ErrUnreachable: the request was definitely not delivered (dial or TLS
//     failure, connection failed before the request was handed to it, or ctx
//     ended before that; then the ctx error is wrapped as well). Safe to retry.
//   - ErrConnLost: the connection failed after the request was handed to it:
//     the handler may or may not have run.
//   - context.DeadlineExceeded / context.Canceled without ErrUnreachable: ctx
//     ended after the request was handed to the connection: outcome unknown.
//     The call's slot is freed at once, a best-effort cancel is sent to the
//     peer (canceling the handler's ctx), and a late response is dropped.
//   - ErrRemote (a *RemoteError): the handler ran and returned an error.
//   - ErrNoHandler: the peer has no Handler; nothing ran.
//   - ErrTooLarge: req exceeds MaxMessageSize; nothing was sent.
//   - ErrClosed: this Transport is closed; nothing was sent.
func (t *Transport) Call(ctx context.Context, addr string, req []byte) ([]byte, error) {
	if len(req) > MaxMessageSize {
		return nil, fmt.Errorf("%w: request of %d bytes (max %d)", ErrTooLarge, len(req), MaxMessageSize)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: call to %s: %w", ErrUnreachable, addr, err)
	}
	for attempt := 0; ; attempt++ {
		c, err := t.clientConn(ctx, addr)
		if err != nil {
			return nil, err
		}
		resp, err := c.call(ctx, req)
		if errors.Is(err, errConnDead) && attempt == 0 {
			continue // the cached connection had just failed: dial afresh
		}
		return resp, err
	}
}

// peer holds the RPC connections to one address. Safe for concurrent use.
type peer struct {
	addr  string
	next  atomic.Uint64
	mu    sync.Mutex
	slots [connsPerPeer]slot
}

// slot is one connection position of a peer: a live connection, or a dial
// in progress whose result every waiter shares.
type slot struct {
	conn    *clientConn
	dialing *dialResult
}

type dialResult struct {
	done chan struct{}
	conn *clientConn
	err  error
}

// clientConn returns a live RPC connection to addr, dialing if needed.
func (t *Transport) clientConn(ctx context.Context, addr string) (*clientConn, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	p := t.peers[addr]
	if p == nil {
		p = &peer{addr: addr}
		t.peers[addr] = p
	}
	t.mu.Unlock()
	s := &p.slots[p.next.Add(1)%connsPerPeer]
	for {
		p.mu.Lock()
		if s.conn != nil && !s.conn.isDead() {
			c := s.conn
			p.mu.Unlock()
			return c, nil
		}
		if d := s.dialing; d != nil {
			p.mu.Unlock()
			select {
			case <-d.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: call to %s: %w", ErrUnreachable, addr, ctx.Err())
			}
			if d.err == nil {
				return d.conn, nil
			}
			if ctx.Err() == nil && (errors.Is(d.err, context.Canceled) || errors.Is(d.err, context.DeadlineExceeded)) {
				continue // the dialer's ctx ended, not ours: dial again
			}
			return nil, d.err
		}
		d := &dialResult{done: make(chan struct{})}
		s.conn, s.dialing = nil, d
		p.mu.Unlock()
		d.conn, d.err = t.dialRPC(ctx, addr)
		p.mu.Lock()
		s.dialing, s.conn = nil, d.conn
		p.mu.Unlock()
		close(d.done)
		return d.conn, d.err
	}
}

// dialRPC dials a new pipelined RPC connection and starts its reader and
// writer goroutines.
func (t *Transport) dialRPC(ctx context.Context, addr string) (*clientConn, error) {
	nc, err := t.dial(ctx, addr, headerRPC)
	if err != nil {
		return nil, err
	}
	c := &clientConn{
		t:       t,
		addr:    addr,
		conn:    nc,
		sendq:   make(chan *call, sendQueueLen),
		pending: make(map[uint64]*call),
		done:    make(chan struct{}),
	}
	c.lastRecv.Store(time.Now().UnixNano())
	if !t.goTracked(c.readLoop) {
		_ = nc.Close()
		return nil, ErrClosed
	}
	if !t.goTracked(c.writeLoop) {
		c.fail(ErrClosed)
		return nil, ErrClosed
	}
	if !t.goTracked(c.watchLoop) {
		c.fail(ErrClosed)
		return nil, ErrClosed
	}
	return c, nil
}

// clientConn is one pipelined RPC connection: calls are registered in
// pending by ID, written by writeLoop, and completed by readLoop in
// whatever order responses arrive. Safe for concurrent use.
type clientConn struct {
	t     *Transport
	addr  string
	conn  net.Conn
	sendq chan *call
	done  chan struct{} // closed by fail

	mu      sync.Mutex
	pending map[uint64]*call
	nextID  uint64
	dead    bool

	// Liveness, in unix nanoseconds: when readLoop last received a frame,
	// when writeLoop last wrote one, and when it first wrote one after the
	// last receipt (the start of the current unanswered stretch).
	lastRecv        atomic.Int64
	lastSent        atomic.Int64
	firstUnanswered atomic.Int64
}

// stallTimeout is how long a connection may receive nothing (no response,
// no pong) while a call sent on it waits, before it is taken for dead: its
// waiting calls fail with ErrConnLost and the next call redials. A peer
// behind a black hole (a lossy link, a NAT that dropped the flow) never
// closes the connection, so without this every call would vanish into it.
// While calls wait, the client pings every stallTimeout/4 and the server
// answers at once, so a slow handler never looks like a dead link.
const stallTimeout = time.Second

// Call states: a request is queued, then handed to the connection (sent),
// unless its caller abandoned it first.
const (
	stateQueued int32 = iota
	stateSent
	stateAbandoned
)

// call is one outstanding request or cancel frame.
type call struct {
	f        frame
	deadline time.Time    // zero = none
	sentAt   atomic.Int64 // unix nanoseconds when handed to the connection
	state    atomic.Int32
	resp     chan callResult // buffered(1); requests of Call only
	// notify receives the outcome instead of resp (requests of Go).
	notify func(callResult)
	// stopCancel stops the ctx watch of a Go call once it has an outcome.
	stopCancel func() bool
}

// finish delivers the call's outcome; the caller removed cl from pending,
// so it runs once per call.
func (cl *call) finish(r callResult) {
	if cl.notify == nil {
		cl.resp <- r
		return
	}
	if cl.stopCancel != nil {
		cl.stopCancel()
	}
	cl.notify(r)
}

type callResult struct {
	payload []byte
	err     error
}

func (c *clientConn) isDead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// call runs one request on c.
func (c *clientConn) call(ctx context.Context, req []byte) ([]byte, error) {
	cl := &call{f: frame{kind: frameRequest, payload: req}, resp: make(chan callResult, 1)}
	if dl, ok := ctx.Deadline(); ok {
		cl.deadline = dl
	}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: call to %s: %w", ErrUnreachable, c.addr, errConnDead)
	}
	c.nextID++
	cl.f.id = c.nextID
	c.pending[cl.f.id] = cl
	c.mu.Unlock()

	select {
	case c.sendq <- cl:
	case <-c.done:
		// fail() has completed cl (or will): wait for its verdict below.
	case <-ctx.Done():
		return nil, c.abandon(ctx, cl)
	}
	select {
	case r := <-cl.resp:
		return r.payload, r.err
	case <-ctx.Done():
		return nil, c.abandon(ctx, cl)
	}
}

// abandon frees cl's slot after its caller's ctx ended and reports whether
// the request had been sent.
func (c *clientConn) abandon(ctx context.Context, cl *call) error {
	c.mu.Lock()
	delete(c.pending, cl.f.id)
	c.mu.Unlock()
	if cl.state.CompareAndSwap(stateQueued, stateAbandoned) {
		return fmt.Errorf("%w: call to %s: %w", ErrUnreachable, c.addr, ctx.Err())
	}
	select { // best effort: tell the peer to cancel the handler
	case c.sendq <- &call{f: frame{kind: frameCancel, id: cl.f.id}}:
	default:
	}
	return fmt.Errorf("transport: call to %s: %w", c.addr, ctx.Err())
}

// fail marks c dead, closes it, and completes every pending call: with
// ErrUnreachable if its request was never handed to the connection,
// ErrConnLost otherwise. Idempotent.
func (c *clientConn) fail(cause error) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.dead = true
	close(c.done)
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	_ = c.conn.Close()
	for _, cl := range pending {
		var err error
		if cl.state.CompareAndSwap(stateQueued, stateAbandoned) {
			err = fmt.Errorf("%w: call to %s: %w", ErrUnreachable, c.addr, cause)
		} else {
			err = fmt.Errorf("%w: call to %s: %w", ErrConnLost, c.addr, cause)
		}
		cl.finish(callResult{err: err})
	}
}

// complete delivers a response frame to its call, if still waiting.
func (c *clientConn) complete(f frame) {
	c.mu.Lock()
	cl := c.pending[f.id]
	delete(c.pending, f.id)
	c.mu.Unlock()
	if cl == nil {
		return // abandoned: late response dropped
	}
	var r callResult
	switch f.kind {
	case frameResponse:
		r.payload = f.payload
	case frameError:
		r.err = &RemoteError{Addr: c.addr, Message: string(f.payload)}
	case frameNoHandler:
		r.err = fmt.Errorf("%w: at %s", ErrNoHandler, c.addr)
	}
	cl.finish(r)
}

// readLoop reads response frames until the connection fails.
func (c *clientConn) readLoop() {
	br := bufio.NewReader(c.conn)
	for {
		f, err := readFrame(br)
		if err != nil {
			c.fail(err)
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		switch f.kind {
		case frameResponse, frameError, frameNoHandler:
			c.complete(f)
		case framePong:
		default:
			c.fail(fmt.Errorf("%w: unexpected kind %d from server", ErrBadFrame, f.kind))
			return
		}
	}
}

// writeLoop writes queued frames, flushing when the queue is empty.
func (c *clientConn) writeLoop() {
	bw := bufio.NewWriterSize(c.conn, 64<<10)
	for {
		var cl *call
		select {
		case cl = <-c.sendq:
		case <-c.done:
			return
		}
		for cl != nil {
			if err := c.write(bw, cl); err != nil {
				c.fail(err)
				return
			}
			select {
			case cl = <-c.sendq:
			default:
				cl = nil
			}
		}
		if err := bw.Flush(); err != nil {
			c.fail(err)
			return
		}
	}
}

// noteSent records that a frame went out, for the stall watch.
func (c *clientConn) noteSent() {
	now := time.Now().UnixNano()
	if c.lastSent.Load() <= c.lastRecv.Load() {
		c.firstUnanswered.Store(now)
	}
	c.lastSent.Store(now)
}

// write encodes one queued frame, skipping abandoned requests.
func (c *clientConn) write(bw *bufio.Writer, cl *call) error {
	defer c.noteSent()
	if cl.f.kind == frameRequest {
		if !cl.state.CompareAndSwap(stateQueued, stateSent) {
			return nil
		}
		cl.sentAt.Store(time.Now().UnixNano())
		if !cl.deadline.IsZero() {
			cl.f.timeout = max(time.Until(cl.deadline), 1)
		}
	}
	return writeFrame(bw, cl.f)
}

// watchLoop detects a connection that silently stopped delivering: as long
// as something was written after the last frame received (a request, even
// one its caller abandoned, a cancel or a ping), it pings the server, which
// answers at once; if nothing at all comes back for stallTimeout, it fails
// the connection.
func (c *clientConn) watchLoop() {
	t := time.NewTicker(stallTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		if c.lastSent.Load() <= c.lastRecv.Load() {
			continue // everything sent has been answered by something
		}
		if quiet := time.Now().UnixNano() - max(c.firstUnanswered.Load(), c.lastRecv.Load()); quiet > int64(stallTimeout) {
			c.fail(fmt.Errorf("transport: connection to %s stalled: nothing received for %v", c.addr, time.Duration(quiet)))
			return
		}
		select { // best effort; a full queue means traffic is flowing anyway
		case c.sendq <- &call{f: frame{kind: framePing}}:
		default:
		}
	}
}
