package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

var (
	_ raft.Transport   = (*RaftTransport)(nil)
	_ raft.WithPreVote = (*RaftTransport)(nil)
	_ raft.WithClose   = (*RaftTransport)(nil)
)

// RaftTransport is the raft.Transport of a Transport: raft's RPCs over the
// shared listener's 'R' connections, in the binary format of raft_codec.go
// (no reflection). Like raft's NetworkTransport, the dialing side keeps a
// pool of connections per peer and sends one request at a time on each;
// the accepting side serves each connection on the goroutine that accepted
// it, which hands the request to raft and writes raft's reply. Pipelined
// replication is not offered: each append waits for the previous reply
// (raft still batches up to MaxAppendEntries entries per append).
//
// It is safe for concurrent use.
type RaftTransport struct {
	t        *Transport
	consumer chan raft.RPC
	shutdown chan struct{} // closed by Close

	heartbeat atomic.Pointer[func(raft.RPC)]
	intercept atomic.Pointer[func(raft.RPC) raft.RPC]

	mu     sync.Mutex
	closed bool
	pool   map[raft.ServerAddress][]*raftConn

	closeOnce  sync.Once
	noRedial   chan struct{} // closed by StopRedialing (which Close calls)
	redialOnce sync.Once
}

func newRaftTransport(t *Transport) *RaftTransport {
	return &RaftTransport{
		t:        t,
		consumer: make(chan raft.RPC),
		shutdown: make(chan struct{}),
		noRedial: make(chan struct{}),
		pool:     make(map[raft.ServerAddress][]*raftConn),
	}
}

// SetInterceptor installs f, which sees every RPC from a peer except
// heartbeats before raft does, on the connection's goroutine, and returns
// the RPC raft is to get (it may, for instance, replace RespChan to hold
// the reply). f must not block. nil removes it.
func (rt *RaftTransport) SetInterceptor(f func(raft.RPC) raft.RPC) {
	if f == nil {
		rt.intercept.Store(nil)
		return
	}
	rt.intercept.Store(&f)
}

// Consumer implements raft.Transport.
func (rt *RaftTransport) Consumer() <-chan raft.RPC { return rt.consumer }

// LocalAddr implements raft.Transport: the Transport's advertised address.
func (rt *RaftTransport) LocalAddr() raft.ServerAddress { return raft.ServerAddress(rt.t.advertise) }

// SetHeartbeatHandler implements raft.Transport: heartbeats (appends with
// nothing but a term and the leader) go to cb on the connection's
// goroutine instead of through Consumer.
func (rt *RaftTransport) SetHeartbeatHandler(cb func(raft.RPC)) {
	if cb == nil {
		rt.heartbeat.Store(nil)
		return
	}
	rt.heartbeat.Store(&cb)
}

// EncodePeer implements raft.Transport.
func (rt *RaftTransport) EncodePeer(_ raft.ServerID, addr raft.ServerAddress) []byte {
	return []byte(addr)
}

// DecodePeer implements raft.Transport.
func (rt *RaftTransport) DecodePeer(p []byte) raft.ServerAddress { return raft.ServerAddress(p) }

// AppendEntriesPipeline implements raft.Transport. Pipelining is not
// offered: in raft v1.8.0 a follower's Success=false reply while two
// appends are in flight deadlocks the pipeline (decodeResponses parks on an
// unbuffered doneCh nobody reads, the next send parks on inprogressCh), so
// that follower never gets another entry and Shutdown hangs. Keel's chaos
// suite found it under one-way loss (grafana/pyroscope#5518 hit it too).
func (rt *RaftTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// AppendEntries implements raft.Transport.
func (rt *RaftTransport) AppendEntries(_ raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	return rt.call(target, args, resp)
}

// RequestVote implements raft.Transport.
func (rt *RaftTransport) RequestVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return rt.call(target, args, resp)
}

// RequestPreVote implements raft.WithPreVote.
func (rt *RaftTransport) RequestPreVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return rt.call(target, args, resp)
}

// TimeoutNow implements raft.Transport.
func (rt *RaftTransport) TimeoutNow(_ raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return rt.call(target, args, resp)
}

// InstallSnapshot implements raft.Transport: the request, then exactly
// args.Size bytes of data, on a connection used for nothing else. The I/O
// deadline grows with the size (raft's RaftTimeout per
// raft.DefaultTimeoutScale bytes).
func (rt *RaftTransport) InstallSnapshot(_ raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if args.Size < 0 {
		return fmt.Errorf("%w: snapshot size %d", ErrBadFrame, args.Size)
	}
	conn, err := rt.getConn(target)
	if err != nil {
		return err
	}
	defer conn.close()
	timeout := max(rt.t.cfg.RaftTimeout, rt.t.cfg.RaftTimeout*time.Duration(args.Size/raft.DefaultTimeoutScale))
	_ = conn.c.SetDeadline(time.Now().Add(timeout))
	frame, err := encodeRaftRequest(conn.buf, args)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(conn.c, 64<<10)
	if _, err := w.Write(frame); err != nil {
		return rt.lost(target, err)
	}
	n, err := io.CopyN(w, data, args.Size)
	if err != nil {
		if n < args.Size && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
			return fmt.Errorf("transport: snapshot data ended after %d of %d bytes: %w", n, args.Size, io.ErrUnexpectedEOF)
		}
		return rt.lost(target, err)
	}
	if err := w.Flush(); err != nil {
		return rt.lost(target, err)
	}
	return conn.readReply(rt, target, resp)
}

// Close implements raft.WithClose: it stops handing RPCs to raft and closes
// the pooled connections. Further calls dial anew (and fail once the
// Transport is closed). It is idempotent and returns nil.
func (rt *RaftTransport) Close() error {
	rt.closeOnce.Do(func() {
		close(rt.shutdown)
		rt.StopRedialing()
		rt.mu.Lock()
		rt.closed = true
		pool := rt.pool
		rt.pool = make(map[raft.ServerAddress][]*raftConn)
		rt.mu.Unlock()
		for _, conns := range pool {
			for _, c := range conns {
				c.close()
			}
		}
	})
	return nil
}

// call sends one request and decodes its reply into resp, on a pooled
// connection that goes back to the pool unless it failed.
func (rt *RaftTransport) call(target raft.ServerAddress, args, resp any) error {
	conn, err := rt.getConn(target)
	if err != nil {
		return err
	}
	_ = conn.c.SetDeadline(time.Now().Add(rt.t.cfg.RaftTimeout))
	frame, err := encodeRaftRequest(conn.buf, args)
	if err != nil {
		rt.putConn(conn)
		return err
	}
	if _, err := conn.c.Write(frame); err != nil {
		conn.close()
		return rt.lost(target, err)
	}
	conn.keep(frame)
	if err := conn.readReply(rt, target, resp); err != nil {
		var remote *RemoteError
		if errors.As(err, &remote) {
			rt.putConn(conn) // raft answered with an error: the stream is intact
		} else {
			conn.close()
		}
		return err
	}
	rt.putConn(conn)
	return nil
}

// lost wraps an I/O failure after a request was (partly) written.
func (rt *RaftTransport) lost(target raft.ServerAddress, err error) error {
	if rt.t.ctx.Err() != nil {
		return fmt.Errorf("%w: raft call to %s: %w", ErrClosed, target, err)
	}
	return fmt.Errorf("%w: raft call to %s: %w", ErrConnLost, target, err)
}

// getConn takes a pooled connection to target or dials one.
func (rt *RaftTransport) getConn(target raft.ServerAddress) (*raftConn, error) {
	rt.mu.Lock()
	if conns := rt.pool[target]; len(conns) > 0 {
		c := conns[len(conns)-1]
		conns[len(conns)-1] = nil
		rt.pool[target] = conns[:len(conns)-1]
		rt.mu.Unlock()
		return c, nil
	}
	rt.mu.Unlock()
	c, err := rt.dial(target)
	if err != nil {
		return nil, err
	}
	return &raftConn{target: target, c: c, r: bufio.NewReaderSize(c, 4<<10)}, nil
}

// dial connects to target; while it is unreachable it redials, pausing
// 10 ms, doubling up to 100 ms, for Config.RaftRedialWait, unless
// StopRedialing or Close ends the waiting (see Config.RaftRedialWait).
func (rt *RaftTransport) dial(target raft.ServerAddress) (net.Conn, error) {
	var deadline time.Time
	pause := 10 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), rt.t.cfg.RaftTimeout)
		c, err := rt.t.dial(ctx, string(target), headerRaft)
		cancel()
		if err == nil || !errors.Is(err, ErrUnreachable) || rt.t.cfg.RaftRedialWait < 0 {
			return c, err
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(rt.t.cfg.RaftRedialWait)
		}
		if !now.Before(deadline) {
			return nil, err
		}
		t := time.NewTimer(min(pause, deadline.Sub(now)))
		select {
		case <-t.C:
		case <-rt.noRedial: // StopRedialing or Close
			t.Stop()
			return nil, err
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// StopRedialing makes raft requests to a peer that cannot be dialed fail at
// once from now on, ending those that are redialing (Config.RaftRedialWait).
// A member calls it when it starts to shut down: raft's shutdown waits for
// its per-peer goroutines, which must not sit out the wait for a peer that
// is down. It is idempotent.
func (rt *RaftTransport) StopRedialing() {
	rt.redialOnce.Do(func() { close(rt.noRedial) })
}

// putConn returns conn to the pool, or closes it when the pool is full or
// the transport is closed.
func (rt *RaftTransport) putConn(conn *raftConn) {
	rt.mu.Lock()
	conns := rt.pool[conn.target]
	if !rt.closed && len(conns) < rt.t.cfg.MaxPool {
		rt.pool[conn.target] = append(conns, conn)
		rt.mu.Unlock()
		return
	}
	rt.mu.Unlock()
	conn.close()
}

// raftConn is one dialed raft connection.
type raftConn struct {
	target raft.ServerAddress // the address dialed: the pool's key
	c      net.Conn
	r      *bufio.Reader
	buf    []byte // request encoding buffer, reused
}

// keep retains the encoding buffer for the next request, unless it grew
// large (a big batch should not pin its buffer for the connection's life).
func (c *raftConn) keep(frame []byte) {
	if cap(frame) <= 256<<10 {
		c.buf = frame[:0]
	} else {
		c.buf = nil
	}
}

func (c *raftConn) close() { _ = c.c.Close() }

// readReply reads one reply frame into resp. A reply carrying raft's error
// is returned as a *RemoteError.
func (c *raftConn) readReply(rt *RaftTransport, target raft.ServerAddress, resp any) error {
	status, p, err := readRaftReply(c.r)
	if err != nil {
		return rt.lost(target, err)
	}
	if status == raftReplyError {
		return &RemoteError{Addr: string(target), Message: string(p)}
	}
	if err := decodeRaftResponse(p, resp); err != nil {
		return rt.lost(target, err)
	}
	return nil
}

// readRaftReply reads one reply frame: its header, checked before anything
// else is read, then its payload.
func readRaftReply(r io.Reader) (status byte, payload []byte, err error) {
	var h [raftFrameHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if err := checkRaftHeader(h, true); err != nil {
		return 0, nil, err
	}
	p, err := readPayload(r, binary.BigEndian.Uint32(h[1:]))
	return h[0], p, err
}
