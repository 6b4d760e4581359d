package transport

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Connection header bytes: the first byte of every connection (after the
// TLS handshake when TLS is on) selects the protocol spoken on it; the
// dialer's Config.ClusterID follows it (8 bytes, big-endian).
const (
	headerRaft byte = 'R' // raft requests and replies (raft_codec.go)
	headerRPC  byte = 'K' // Keel request/response frames (frame.go)
	// headerJoin starts a join connection (join.go): one request from a
	// process that is not a member yet, whatever its cluster ID.
	headerJoin byte = 'J'
	// headerReject is an RPC connection's acknowledgement when the
	// dialer's cluster ID is not the acceptor's.
	headerReject byte = 'X'
	headerLen         = 1 + 8
)

// encodeHeader returns the opening bytes of a connection of kind header.
func encodeHeader(header byte, clusterID uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{header}, clusterID)
}

// Transport is one member's listener multiplexing raft traffic and Keel
// RPCs, plus the client side of both. It is safe for concurrent use.
type Transport struct {
	cfg       Config
	ln        net.Listener
	advertise string
	log       *slog.Logger
	raftNet   *RaftTransport
	// clusterID is Config.ClusterID, changed by SetClusterID.
	clusterID atomic.Uint64

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine we start

	mu       sync.Mutex
	closed   bool
	conns    map[net.Conn]struct{} // every open raw connection
	peers    map[string]*peer      // RPC client pools by address
	accepted int                   // accepted connections open (Config.MaxConns)
	perHost  map[string]int        // the same by remote IP (Config.MaxConnsPerHost)

	// Refusals not logged yet and when the last was logged (acceptLoop's).
	refused   int
	refusedAt time.Time

	closeOnce sync.Once
}

// Listen binds cfg.Addr (or adopts cfg.Listener) and starts accepting raft
// and RPC connections.
func Listen(cfg Config) (*Transport, error) {
	cfg = cfg.withDefaults()
	ln := cfg.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("transport: listen on %s: %w", cfg.Addr, err)
		}
	}
	adv := cfg.AdvertiseAddr
	if adv == "" {
		adv = ln.Addr().String()
	}
	host, _, err := net.SplitHostPort(adv)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("%w: advertise address %q: %v", ErrInvalidConfig, adv, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		_ = ln.Close()
		return nil, fmt.Errorf("%w: advertise address %q is not dialable; set AdvertiseAddr", ErrInvalidConfig, adv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg:       cfg,
		ln:        ln,
		advertise: adv,
		log:       cfg.Logger.With("component", "transport", "addr", adv),
		ctx:       ctx,
		cancel:    cancel,
		conns:     make(map[net.Conn]struct{}),
		peers:     make(map[string]*peer),
		perHost:   make(map[string]int),
	}
	t.clusterID.Store(cfg.ClusterID)
	t.raftNet = newRaftTransport(t)
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// Addr returns the advertised address: the one peers dial and raft uses as
// this member's ServerAddress.
func (t *Transport) Addr() string { return t.advertise }

// ClusterID returns the cluster ID this transport presents and accepts.
func (t *Transport) ClusterID() uint64 { return t.clusterID.Load() }

// SetClusterID changes the cluster ID this transport presents and accepts
// (Config.ClusterID), for a process that learns its cluster by joining it.
// Connections already open are not affected.
func (t *Transport) SetClusterID(id uint64) { t.clusterID.Store(id) }

// Raft returns the raft.Transport running over the multiplexed listener.
// It implements raft.WithPreVote and raft.WithClose. Closing it directly
// stops raft traffic only; Transport.Close closes it too.
func (t *Transport) Raft() *RaftTransport { return t.raftNet }

// Close stops accepting, closes raft's transport and every connection,
// cancels running handlers' contexts and waits for every goroutine the
// Transport started to exit. Pending
// Calls fail. It is idempotent and always returns nil.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		t.cancel()
		_ = t.ln.Close()
		_ = t.raftNet.Close()
		t.mu.Lock()
		conns := make([]net.Conn, 0, len(t.conns))
		for c := range t.conns {
			conns = append(conns, c)
		}
		t.mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
		t.wg.Wait()
	})
	return nil
}

// goTracked runs f in a goroutine counted by t.wg, unless t is closed.
func (t *Transport) goTracked(f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

// track registers a raw connection so Close can close it; false means t is
// closed (the caller must close c).
func (t *Transport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *Transport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// admit registers an accepted connection, counted against Config.MaxConns
// and Config.MaxConnsPerHost, and returns the host it counts for. The
// error is ErrClosed when t is closed and wraps ErrConnLimit when a cap is
// reached; either way the caller must close c.
func (t *Transport) admit(c net.Conn) (string, error) {
	host := remoteHost(c)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return "", ErrClosed
	case t.accepted >= t.cfg.MaxConns:
		return "", fmt.Errorf("%w: %d accepted connections open (MaxConns)", ErrConnLimit, t.accepted)
	case t.perHost[host] >= t.cfg.MaxConnsPerHost:
		return "", fmt.Errorf("%w: %d connections open from %s (MaxConnsPerHost)", ErrConnLimit, t.perHost[host], host)
	}
	t.accepted++
	t.perHost[host]++
	t.conns[c] = struct{}{}
	return host, nil
}

// release undoes admit once the connection is closed.
func (t *Transport) release(c net.Conn, host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.conns, c)
	t.accepted--
	if t.perHost[host]--; t.perHost[host] <= 0 {
		delete(t.perHost, host)
	}
}

// remoteHost is the key of c's remote end for Config.MaxConnsPerHost: its
// IP address, or the whole address when it has no host part.
func remoteHost(c net.Conn) string {
	a := c.RemoteAddr()
	if a == nil {
		return ""
	}
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// logRefused logs a connection refused by a cap: the first one, then at
// most one line a second counting those refused meanwhile, so a flood of
// connections cannot flood the log. Only acceptLoop calls it.
func (t *Transport) logRefused(c net.Conn, err error) {
	t.refused++
	if now := time.Now(); now.Sub(t.refusedAt) >= time.Second {
		t.log.Warn("refusing connection", "remote", c.RemoteAddr().String(), "err", err, "refused", t.refused)
		t.refused, t.refusedAt = 0, now
	}
}

// acceptLoop accepts connections and hands each to handleConn.
func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	var delay time.Duration
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t.log.Warn("accept failed", "err", err, "retry_in", delay)
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		host, err := t.admit(c)
		if err != nil {
			_ = c.Close()
			if errors.Is(err, ErrClosed) {
				return
			}
			t.logRefused(c, err)
			continue
		}
		t.wg.Add(1) // safe: acceptLoop holds a count
		go t.handleConn(c, host)
	}
}

// handleConn completes the TLS handshake, reads the header, closes the
// connection if it comes from another cluster, and dispatches it to raft
// or to the RPC server. All of it up to the dispatch runs under
// Config.HandshakeTimeout.
func (t *Transport) handleConn(raw net.Conn, host string) {
	defer t.wg.Done()
	defer func() {
		_ = raw.Close()
		t.release(raw, host)
	}()
	_ = raw.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	c := raw
	if t.cfg.TLS != nil {
		tc := tls.Server(raw, t.cfg.TLS)
		if err := tc.HandshakeContext(t.ctx); err != nil {
			t.log.Warn("tls handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
			return
		}
		c = tc
	}
	var hdr [headerLen]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.log.Debug("reading connection header failed", "remote", raw.RemoteAddr().String(), "err", err)
		return
	}
	if id := binary.BigEndian.Uint64(hdr[1:]); id != t.ClusterID() && (hdr[0] == headerRaft || hdr[0] == headerRPC) {
		// A member of another cluster (a stale process, or one whose peer
		// address now belongs to this member): talking to it would mix
		// two clusters' raft logs.
		t.log.Warn("closing connection from another cluster", "remote", raw.RemoteAddr().String(),
			"err", ErrClusterMismatch, "cluster_id", fmt.Sprintf("%016x", t.ClusterID()), "remote_cluster_id", fmt.Sprintf("%016x", id))
		if hdr[0] == headerRPC {
			_, _ = c.Write([]byte{headerReject})
		}
		return
	}
	switch hdr[0] {
	case headerRaft:
		_ = raw.SetDeadline(time.Time{})
		t.raftNet.serveRaft(c)
	case headerRPC:
		// Acknowledge, so the dialer knows the connection is accepted
		// (with TLS 1.3 a rejected client certificate shows only now).
		if _, err := c.Write([]byte{headerRPC}); err != nil {
			return
		}
		_ = raw.SetDeadline(time.Time{})
		t.serveRPC(c)
	case headerJoin:
		t.serveJoin(c)
	default:
		t.log.Warn("closing connection", "remote", raw.RemoteAddr().String(), "err", ErrBadHeader, "header", hdr[0])
	}
}

// dial opens an outgoing connection to addr, runs the TLS handshake and
// writes the header (for RPC connections, then waits for the peer's
// one-byte acknowledgement or rejection), all bounded by ctx. Errors wrap ErrUnreachable
// (and ctx's error when it ended the dial).
func (t *Transport) dial(ctx context.Context, addr string, header byte) (net.Conn, error) {
	if t.ctx.Err() != nil {
		return nil, ErrClosed
	}
	ctx, stop := mergeCancel(ctx, t.ctx)
	defer stop()
	var raw net.Conn
	var err error
	if t.cfg.Dial != nil {
		raw, err = t.cfg.Dial(ctx, addr)
	} else {
		var d net.Dialer
		raw, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, t.dialErr(ctx, addr, err)
	}
	if !t.track(raw) {
		_ = raw.Close()
		return nil, ErrClosed
	}
	fail := func(err error) (net.Conn, error) {
		t.untrack(raw)
		_ = raw.Close()
		return nil, t.dialErr(ctx, addr, err)
	}
	// Bound the handshake and header exchange by ctx, deadline or cancel.
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stopInterrupt := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stopInterrupt()
	c := raw
	if t.cfg.TLS != nil {
		cfg := t.cfg.TLS.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(err)
		}
		c = tc
	}
	if _, err := c.Write(encodeHeader(header, t.ClusterID())); err != nil {
		return fail(err)
	}
	if header == headerRPC || header == headerJoin {
		var ack [1]byte
		if _, err := io.ReadFull(c, ack[:]); err != nil {
			return fail(err)
		}
		switch ack[0] {
		case header:
		case headerReject:
			return fail(fmt.Errorf("%w: %s belongs to another cluster", ErrClusterMismatch, addr))
		default:
			return fail(fmt.Errorf("%w: ack %d", ErrBadHeader, ack[0]))
		}
	}
	if !stopInterrupt() {
		return fail(ctx.Err()) // ctx ended: the deadline may be poisoned
	}
	_ = raw.SetDeadline(time.Time{})
	return &trackedConn{Conn: c, onClose: func() { t.untrack(raw) }}, nil
}

// dialErr wraps a dial failure with ErrUnreachable, and with ctx's error
// when ctx ended it (or ErrClosed when the transport is closing).
func (t *Transport) dialErr(ctx context.Context, addr string, err error) error {
	if t.ctx.Err() != nil {
		return fmt.Errorf("%w: dial %s: %w", ErrClosed, addr, err)
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w: dial %s: %w", ErrUnreachable, addr, cerr)
	}
	return fmt.Errorf("%w: dial %s: %w", ErrUnreachable, addr, err)
}

// mergeCancel returns a context that is ctx, also canceled when other is.
func mergeCancel(ctx, other context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(other, cancel)
	return ctx, func() { stop(); cancel() }
}

// trackedConn runs onClose once, on the first Close.
type trackedConn struct {
	net.Conn
	once    sync.Once
	onClose func()
}

// Close closes the connection and runs onClose the first time.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.onClose)
	return err
}
