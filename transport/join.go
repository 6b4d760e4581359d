package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"
)

// MaxJoinMessageSize is the largest request or response on a join
// connection, in bytes. Join requests are small; the bound keeps a process
// that is not a member from making a member buffer much.
const MaxJoinMessageSize = 64 << 10

// JoinHandler serves one request on a join connection: a request from a
// process that is not (yet) a member, so its cluster ID is not checked.
// peer describes the connection. The handler decides whether to trust the
// request (Config.JoinHandler).
type JoinHandler func(ctx context.Context, req []byte, peer JoinPeer) ([]byte, error)

// JoinPeer describes the remote end of a join connection.
type JoinPeer struct {
	// RemoteAddr is the connection's remote address.
	RemoteAddr string
	// Certificates is the peer's certificate chain as verified by the TLS
	// handshake (the leaf first), or nil without TLS or when the handshake
	// verified no client certificate (Config.TLS.ClientAuth below
	// VerifyClientCertIfGiven, or no certificate given).
	Certificates []*x509.Certificate
}

// Join sends one request to addr over a join connection and returns the
// response: the way a process that does not know its cluster's ID yet
// talks to a member (Config.JoinHandler on that member). The connection
// opens with this transport's TLS configuration, carries the request and
// the reply, and is closed. Errors are those of Call: ErrUnreachable when
// nothing was sent, a *RemoteError when the handler failed, ErrNoHandler
// when the member serves no joins, ErrConnLost when the outcome is unknown.
func (t *Transport) Join(ctx context.Context, addr string, req []byte) ([]byte, error) {
	if len(req) > MaxJoinMessageSize {
		return nil, ErrTooLarge
	}
	c, err := t.dial(ctx, addr, headerJoin)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	bw := bufio.NewWriter(c)
	if err := writeFrame(bw, frame{kind: frameRequest, payload: req}); err != nil {
		return nil, t.lostErr(ctx, addr, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, t.lostErr(ctx, addr, err)
	}
	f, err := readFrameLimit(bufio.NewReader(c), MaxJoinMessageSize)
	if err != nil {
		return nil, t.lostErr(ctx, addr, err)
	}
	switch f.kind {
	case frameResponse:
		return f.payload, nil
	case frameError:
		return nil, &RemoteError{Addr: addr, Message: string(f.payload)}
	case frameNoHandler:
		return nil, fmt.Errorf("%w: %s serves no joins", ErrNoHandler, addr)
	}
	return nil, t.lostErr(ctx, addr, fmt.Errorf("%w: kind %d on a join connection", ErrBadFrame, f.kind))
}

// lostErr wraps a failure after the request was sent with ErrConnLost
// (and ctx's error when ctx ended it).
func (t *Transport) lostErr(ctx context.Context, addr string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w: %s: %w", ErrConnLost, addr, cerr)
	}
	return fmt.Errorf("%w: %s: %w", ErrConnLost, addr, err)
}

// serveJoin answers the one request of a join connection (after its
// header): the request must arrive within Config.HandshakeTimeout (the
// deadline handleConn set), the handler runs and the reply is written
// within Config.RaftTimeout.
func (t *Transport) serveJoin(c net.Conn) {
	if _, err := c.Write([]byte{headerJoin}); err != nil {
		return
	}
	f, err := readFrameLimit(c, MaxJoinMessageSize)
	if err != nil || f.kind != frameRequest {
		t.log.Debug("bad join request", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	reply := frame{kind: frameNoHandler}
	if h := t.cfg.JoinHandler; h != nil {
		peer := JoinPeer{RemoteAddr: c.RemoteAddr().String()}
		if tc, ok := c.(*tls.Conn); ok {
			if st := tc.ConnectionState(); len(st.VerifiedChains) > 0 {
				peer.Certificates = st.VerifiedChains[0]
			}
		}
		ctx, cancel := context.WithTimeout(t.ctx, t.cfg.RaftTimeout)
		resp, err := h(ctx, f.payload, peer)
		cancel()
		switch {
		case err != nil:
			reply = frame{kind: frameError, payload: []byte(err.Error())}
		case len(resp) > MaxJoinMessageSize:
			reply = frame{kind: frameError, payload: []byte(ErrTooLarge.Error())}
		default:
			reply = frame{kind: frameResponse, payload: resp}
		}
	}
	_ = c.SetDeadline(time.Now().Add(t.cfg.RaftTimeout))
	bw := bufio.NewWriter(c)
	if writeFrame(bw, reply) == nil {
		_ = bw.Flush()
	}
}
