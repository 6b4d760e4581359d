package transport

import (
	"context"
	"fmt"
)

// CallResult is the outcome of a call started with Go.
type CallResult struct {
	// Addr is the address called.
	Addr string
	// Resp is the peer's response when Err is nil.
	Resp []byte
	// Err is what Call would have returned.
	Err error
}

// Go starts a call of req to addr, like Call, and sends its outcome on
// done exactly once. done must have room for it when it comes (buffered,
// a slot per call outstanding): the connection's reader delivers it and
// does not wait. When a live connection to addr exists, Go only queues the
// request and returns, so a caller fanning out to several peers needs no
// goroutine per call; otherwise it runs Call in a goroutine (dialing never
// holds up the caller). Outcomes and errors are Call's, ctx included: when
// ctx ends first, the outcome is sent at once.
func (t *Transport) Go(ctx context.Context, addr string, req []byte, done chan<- CallResult) {
	notify := func(r callResult) { done <- CallResult{Addr: addr, Resp: r.payload, Err: r.err} }
	if len(req) <= MaxMessageSize && ctx.Err() == nil {
		if c := t.liveConn(addr); c != nil && c.start(ctx, req, notify) {
			return
		}
	}
	if !t.goTracked(func() {
		resp, err := t.Call(ctx, addr, req)
		notify(callResult{payload: resp, err: err})
	}) {
		notify(callResult{err: fmt.Errorf("%w: call to %s", ErrClosed, addr)})
	}
}

// liveConn returns a live RPC connection to addr without dialing, or nil.
func (t *Transport) liveConn(addr string) *clientConn {
	t.mu.Lock()
	p := t.peers[addr]
	closed := t.closed
	t.mu.Unlock()
	if p == nil || closed {
		return nil
	}
	s := &p.slots[p.next.Add(1)%connsPerPeer]
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.conn != nil && !s.conn.isDead() {
		return s.conn
	}
	return nil
}

// start queues one request whose outcome goes to notify; false means c had
// already failed and nothing was queued.
func (c *clientConn) start(ctx context.Context, req []byte, notify func(callResult)) bool {
	cl := &call{f: frame{kind: frameRequest, payload: req}, notify: notify}
	if dl, ok := ctx.Deadline(); ok {
		cl.deadline = dl
	}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return false
	}
	c.nextID++
	cl.f.id = c.nextID
	c.pending[cl.f.id] = cl
	if ctx.Done() != nil {
		cl.stopCancel = context.AfterFunc(ctx, func() { c.abandonAsync(ctx, cl) })
	}
	c.mu.Unlock()
	select {
	case c.sendq <- cl:
	case <-c.done: // fail() completes cl
	case <-ctx.Done(): // the AfterFunc abandons cl
	}
	return true
}

// abandonAsync ends a Go call whose ctx ended, unless it already has its
// outcome: like abandon, it reports whether the request had been sent.
func (c *clientConn) abandonAsync(ctx context.Context, cl *call) {
	c.mu.Lock()
	_, waiting := c.pending[cl.f.id]
	delete(c.pending, cl.f.id)
	c.mu.Unlock()
	if !waiting {
		return // completed, or failed with the connection
	}
	if cl.state.CompareAndSwap(stateQueued, stateAbandoned) {
		cl.notify(callResult{err: fmt.Errorf("%w: call to %s: %w", ErrUnreachable, c.addr, ctx.Err())})
		return
	}
	select { // best effort: tell the peer to cancel the handler
	case c.sendq <- &call{f: frame{kind: frameCancel, id: cl.f.id}}:
	default:
	}
	cl.notify(callResult{err: fmt.Errorf("transport: call to %s: %w", c.addr, ctx.Err())})
}
