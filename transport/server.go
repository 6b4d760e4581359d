package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
)

// serverConn serves the RPC frames of one accepted 'K' connection: a read
// loop (the caller's goroutine), one goroutine per request running the
// Handler, and a single writer goroutine. Safe for concurrent use.
type serverConn struct {
	t      *Transport
	conn   net.Conn
	ctx    context.Context // canceled when the connection ends
	cancel context.CancelFunc
	out    chan frame
	// slots holds a token per running Handler call, so that at most
	// Config.MaxHandlersPerConn run at once; nil means no cap.
	slots chan struct{}

	mu       sync.Mutex
	inflight map[uint64]context.CancelFunc
}

// serveRPC serves c until it fails or the transport closes.
func (t *Transport) serveRPC(c net.Conn) {
	ctx, cancel := context.WithCancel(t.ctx)
	s := &serverConn{
		t:        t,
		conn:     c,
		ctx:      ctx,
		cancel:   cancel,
		out:      make(chan frame, sendQueueLen),
		inflight: make(map[uint64]context.CancelFunc),
	}
	if n := t.cfg.MaxHandlersPerConn; n < math.MaxInt {
		s.slots = make(chan struct{}, n)
	}
	defer cancel()
	t.wg.Add(1) // safe: the caller holds a count
	go func() {
		defer t.wg.Done()
		s.writeLoop()
	}()
	br := bufio.NewReader(c)
	for {
		f, err := readFrame(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				t.log.Warn("closing rpc connection", "remote", c.RemoteAddr().String(), "err", err)
			}
			return
		}
		switch f.kind {
		case frameRequest:
			if in := t.cfg.Inline; in != nil {
				if resp, ok := in(f.payload); ok {
					s.reply(frame{kind: frameResponse, id: f.id, payload: resp})
					continue
				}
			}
			if !s.start(f) {
				if ctx.Err() == nil {
					t.log.Warn("closing rpc connection", "remote", c.RemoteAddr().String(),
						"err", fmt.Errorf("%w: duplicate request id %d", ErrBadFrame, f.id))
				}
				return
			}
		case framePing:
			s.reply(frame{kind: framePong, id: f.id})
		case frameCancel:
			s.mu.Lock()
			if stop := s.inflight[f.id]; stop != nil {
				stop()
			}
			s.mu.Unlock()
		default:
			t.log.Warn("closing rpc connection", "remote", c.RemoteAddr().String(),
				"err", fmt.Errorf("%w: unexpected kind %d from client", ErrBadFrame, f.kind))
			return
		}
	}
}

// start runs the handler for request f in its own goroutine, once fewer
// than Config.MaxHandlersPerConn run (until then it waits, and so does the
// connection's reader); false means f's ID is already in flight (a
// protocol violation) or the connection ended while waiting.
func (s *serverConn) start(f frame) bool {
	h := s.t.cfg.Handler
	if h == nil {
		s.reply(frame{kind: frameNoHandler, id: f.id})
		return true
	}
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
		case <-s.ctx.Done():
			return false
		}
	}
	var hctx context.Context
	var stop context.CancelFunc
	if f.timeout > 0 {
		hctx, stop = context.WithTimeout(s.ctx, f.timeout)
	} else {
		hctx, stop = context.WithCancel(s.ctx)
	}
	s.mu.Lock()
	if _, dup := s.inflight[f.id]; dup {
		s.mu.Unlock()
		stop()
		s.releaseSlot()
		return false
	}
	s.inflight[f.id] = stop
	s.mu.Unlock()
	s.t.wg.Add(1) // safe: serveRPC's goroutine holds a count
	go func() {
		defer s.t.wg.Done()
		resp := s.run(hctx, h, f)
		s.mu.Lock()
		delete(s.inflight, f.id)
		s.mu.Unlock()
		stop()
		s.reply(resp)
		// Only now: a peer that stops reading replies must not make
		// handlers pile up behind the writer either.
		s.releaseSlot()
	}()
	return true
}

// releaseSlot frees the handler slot start took.
func (s *serverConn) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

// run calls the handler, turning its result (or panic) into a reply frame.
func (s *serverConn) run(ctx context.Context, h Handler, f frame) (reply frame) {
	defer func() {
		if p := recover(); p != nil {
			s.t.log.Error("rpc handler panicked", "panic", p)
			reply = frame{kind: frameError, id: f.id, payload: fmt.Appendf(nil, "transport: handler panic: %v", p)}
		}
	}()
	resp, err := h(ctx, f.payload)
	switch {
	case err != nil:
		return frame{kind: frameError, id: f.id, payload: []byte(err.Error())}
	case len(resp) > MaxMessageSize:
		return frame{kind: frameError, id: f.id, payload: fmt.Appendf(nil, "%v: response of %d bytes", ErrTooLarge, len(resp))}
	default:
		return frame{kind: frameResponse, id: f.id, payload: resp}
	}
}

// reply queues f for the writer; dropped if the connection has ended.
func (s *serverConn) reply(f frame) {
	if s.ctx.Err() != nil {
		return
	}
	select {
	case s.out <- f:
	case <-s.ctx.Done():
	}
}

// writeLoop writes replies, flushing when none is queued. A write failure
// closes the connection, which ends serveRPC's read loop.
func (s *serverConn) writeLoop() {
	bw := bufio.NewWriterSize(s.conn, 64<<10)
	for {
		var f frame
		select {
		case f = <-s.out:
		case <-s.ctx.Done():
			return
		}
		for {
			if err := writeFrame(bw, f); err != nil {
				s.abort(err)
				return
			}
			select {
			case f = <-s.out:
				continue
			default:
			}
			break
		}
		if err := bw.Flush(); err != nil {
			s.abort(err)
			return
		}
	}
}

func (s *serverConn) abort(err error) {
	if s.ctx.Err() == nil {
		s.t.log.Debug("rpc write failed", "remote", s.conn.RemoteAddr().String(), "err", err)
	}
	s.cancel()
	_ = s.conn.Close()
}
