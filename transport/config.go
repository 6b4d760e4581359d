package transport

import (
	"context"
	"crypto/tls"
	"log/slog"
	"math"
	"net"
	"time"
)

// Handler serves one RPC from a peer. ctx carries the caller's deadline and
// is canceled when the transport closes, when the connection to the caller
// fails, and when the caller cancels its Call. req is owned by the handler.
// A returned error is delivered to the caller as a *RemoteError (its text
// only); a returned response larger than MaxMessageSize is delivered as a
// *RemoteError too. Handlers run concurrently, one goroutine per request,
// and must return promptly once ctx is done: Transport.Close waits for them.
type Handler func(ctx context.Context, req []byte) ([]byte, error)

// Config configures a Transport. The zero value is usable: it listens on
// 127.0.0.1 on a random port, in plaintext, without a Handler.
type Config struct {
	// Addr is the listen address "host:port"; "" means "127.0.0.1:0".
	Addr string
	// AdvertiseAddr is the address peers dial; "" means the listener's
	// actual address. It must not have an unspecified host (0.0.0.0, ::).
	AdvertiseAddr string
	// TLS, when non-nil, is used both for accepting (tls.Server) and for
	// dialing (tls.Client). Mutual TLS is in effect when it sets ClientCAs
	// and ClientAuth; when ServerName is empty the dialed host is used.
	// nil means plaintext.
	TLS *tls.Config
	// Logger receives the transport's logs; nil discards them.
	Logger *slog.Logger
	// ClusterID identifies the cluster this member belongs to. Every
	// connection opens with the dialer's ClusterID, and a member accepts
	// only connections whose ClusterID equals its own, so a process of
	// another cluster that reaches this address (a stale member, or one
	// whose peer's address was reused) cannot mix its raft log or requests
	// with this cluster's. The zero value is a valid ID: transports that
	// leave it zero talk only to each other.
	ClusterID uint64
	// Handler serves Call from peers; nil makes calls to this member fail
	// with ErrNoHandler.
	Handler Handler
	// JoinHandler serves Join requests: requests from processes that are
	// not members, whatever cluster ID they present. It must authenticate
	// them itself (JoinPeer carries the verified TLS certificates). nil
	// makes joins to this member fail with ErrNoHandler.
	JoinHandler JoinHandler

	// Inline, if set, is offered every request first, on the connection's
	// reader goroutine: if it returns ok, resp is the reply and Handler is
	// not called. It must be fast and never block (it stalls every request
	// behind it on the connection); it saves a goroutine and a context per
	// request for trivial requests. A panic in it is not recovered.
	Inline func(req []byte) (resp []byte, ok bool)
	// Listener, when non-nil, is used instead of binding Addr (tests, fault
	// injection). The Transport takes ownership and closes it.
	Listener net.Listener
	// Dial, when non-nil, replaces net.Dialer for every outgoing connection
	// (raft and RPC); the TLS handshake, if any, runs on top of it.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// RaftTimeout is the I/O deadline of each raft request (scaled up for
	// snapshots); 0 means 10s.
	RaftTimeout time.Duration
	// HandshakeTimeout is the time an accepted connection gets to complete
	// its TLS handshake and send its header and cluster ID (for a join
	// connection, its request too); a connection still short of that is
	// closed. It bounds how long a peer that connects and then stalls (a
	// slow-loris) holds a connection slot. 0 means 10s.
	HandshakeTimeout time.Duration
	// MaxConns caps the accepted connections open at once, those still in
	// their handshake included; a connection accepted beyond it is closed
	// at once, before its handshake (logged, at most once a second, with
	// ErrConnLimit). Dialed connections do not count. 0 means 1024; a
	// negative value means no cap.
	MaxConns int
	// MaxConnsPerHost caps the accepted connections open at once from one
	// remote IP address, so that one host cannot take every slot of
	// MaxConns. A member opens a handful to each peer (up to MaxPool
	// pooled raft connections, one per raft request beyond them, two for
	// RPCs), and members sharing a host (tests, a cluster in one process)
	// share the cap. 0 means 128; a negative value means no cap.
	MaxConnsPerHost int
	// MaxHandlersPerConn caps the Handler calls running at once for the
	// requests of one RPC connection. A request arriving beyond it waits:
	// the connection's reader stops reading (so the peer's writes block
	// under TCP flow control, and its later frames, pings and cancels
	// included, wait too) until a running handler returns. Nothing is
	// refused, so the caller sees latency, not an error, unless every
	// running handler takes longer than a Call's stall timeout (1 s):
	// then its pings go unanswered and it drops the connection, failing
	// the calls on it with ErrConnLost. Inline requests take no slot.
	// 0 means 1024; a negative value means no cap.
	MaxHandlersPerConn int
	// MaxPool is raft's connection pool size per peer; 0 means 3.
	MaxPool int
	// RaftRedialWait is how long a raft request to a peer that cannot be
	// dialed keeps redialing (every 10-100 ms) before it fails; 0 means 3s,
	// a negative value fails at once. raft backs off after every failed
	// request to a peer, up to 10 s between tries, so without this a peer
	// that restarts after a few seconds down would wait that long for the
	// leader; with it, each try lasts long enough that the backoff stays
	// short, and the request in flight reaches the peer as soon as it
	// listens again. RaftTransport.StopRedialing (and Close) ends the
	// waiting.
	RaftRedialWait time.Duration
}

const (
	defaultAddr               = "127.0.0.1:0"
	defaultRaftTimeout        = 10 * time.Second
	defaultHandshakeTimeout   = 10 * time.Second
	defaultMaxConns           = 1024
	defaultMaxConnsPerHost    = 128
	defaultMaxHandlersPerConn = 1024
	defaultMaxPool            = 3
	defaultRedialWait         = 3 * time.Second
)

// withDefaults returns cfg with zero fields replaced by their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Addr == "" {
		cfg.Addr = defaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RaftTimeout <= 0 {
		cfg.RaftTimeout = defaultRaftTimeout
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = defaultHandshakeTimeout
	}
	cfg.MaxConns = capDefault(cfg.MaxConns, defaultMaxConns)
	cfg.MaxConnsPerHost = capDefault(cfg.MaxConnsPerHost, defaultMaxConnsPerHost)
	cfg.MaxHandlersPerConn = capDefault(cfg.MaxHandlersPerConn, defaultMaxHandlersPerConn)
	if cfg.MaxPool <= 0 {
		cfg.MaxPool = defaultMaxPool
	}
	if cfg.RaftRedialWait == 0 {
		cfg.RaftRedialWait = defaultRedialWait
	}
	return cfg
}

// capDefault resolves a cap field: 0 is def, a negative value is no cap
// (math.MaxInt).
func capDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt
	}
	return v
}
