package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/allocs"
	"github.com/keeldb/keel/internal/testpki"
)

// pipeListener is a net.Listener of in-memory connections (net.Pipe), so
// that a Transport can run inside a synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial returns the client end of a new connection the listener accepts.
func (l *pipeListener) dial(tb testing.TB) net.Conn {
	tb.Helper()
	client, server := net.Pipe()
	tb.Cleanup(func() { _ = client.Close() })
	select {
	case l.conns <- server:
	case <-l.done:
		tb.Fatal("listener closed")
	}
	return client
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe:1" }

// closedSignal reads c until it fails and then closes the returned channel.
func closedSignal(c net.Conn) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, c)
	}()
	return done
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestHandshakeDeadline: an accepted connection that does not complete its
// TLS handshake and header within HandshakeTimeout (a slow-loris) is
// closed then, and not before. It runs on fake time (synctest).
func TestHandshakeDeadline(t *testing.T) {
	const timeout = 5 * time.Second
	tests := []struct {
		name string
		tls  bool
		// open does what the stalling peer does before it stops.
		open func(t *testing.T, c net.Conn, cfg *tls.Config)
	}{
		{"silent", false, func(*testing.T, net.Conn, *tls.Config) {}},
		{"partial header", false, func(t *testing.T, c net.Conn, _ *tls.Config) {
			_, err := c.Write(encodeHeader(headerRPC, 0)[:3])
			require.NoError(t, err)
		}},
		{"silent tls", true, func(*testing.T, net.Conn, *tls.Config) {}},
		{"tls without header", true, func(t *testing.T, c net.Conn, cfg *tls.Config) {
			cfg = cfg.Clone()
			cfg.ServerName = "127.0.0.1"
			require.NoError(t, tls.Client(c, cfg).Handshake())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ln := newPipeListener()
				cfg := Config{Listener: ln, HandshakeTimeout: timeout, Handler: echo}
				var cliTLS *tls.Config
				if tc.tls {
					pki := testpki.New(t) // in the bubble: valid at its fake time
					cfg.TLS, cliTLS = pki.MemberTLS(t, "srv"), pki.MemberTLS(t, "cli")
				}
				newTransport(t, cfg)
				start := time.Now()
				c := ln.dial(t)
				tc.open(t, c, cliTLS)
				closed := closedSignal(c)
				time.Sleep(timeout - time.Since(start) - time.Millisecond)
				synctest.Wait()
				require.False(t, isClosed(closed), "closed before HandshakeTimeout")
				time.Sleep(2 * time.Millisecond)
				synctest.Wait()
				require.True(t, isClosed(closed), "still open after HandshakeTimeout")
			})
		})
	}
}

// TestConnCaps: connections beyond MaxConns, or beyond MaxConnsPerHost
// from one IP address, are closed at once, before their handshake
// deadline; other hosts keep their share, and a freed slot is reused.
func TestConnCaps(t *testing.T) {
	dialFrom := func(t *testing.T, ip string, addr string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(waitFor)))
		return c
	}
	// requireOpen checks that the acceptor holds c open: it still answers
	// the RPC handshake once given its header (a refused connection is
	// closed unread).
	requireOpen := func(t *testing.T, c net.Conn) {
		t.Helper()
		_, err := c.Write(encodeHeader(headerRPC, 0))
		require.NoError(t, err)
		var ack [1]byte
		_, err = io.ReadFull(c, ack[:])
		require.NoError(t, err, "connection was refused")
		require.Equal(t, headerRPC, ack[0])
	}
	tests := []struct {
		name          string
		maxConns      int
		maxPerHost    int
		held          []string // source IPs of the connections that fill the caps
		refused, open string   // a source IP refused, and one still admitted
	}{
		{"MaxConns", 3, -1, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, "127.0.0.4", ""},
		{"MaxConnsPerHost", -1, 2, []string{"127.0.0.1", "127.0.0.1"}, "127.0.0.1", "127.0.0.2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A handshake deadline longer than waitFor: a refusal cannot
			// be mistaken for it.
			srv := newTransport(t, Config{Handler: echo, MaxConns: tc.maxConns, MaxConnsPerHost: tc.maxPerHost,
				HandshakeTimeout: 3 * waitFor})
			var held []net.Conn
			for _, ip := range tc.held {
				held = append(held, dialFrom(t, ip, srv.Addr()))
			}
			// Accepted in dial order: the held ones are in before these.
			requireClosedByPeer(t, dialFrom(t, tc.refused, srv.Addr()))
			if tc.open != "" {
				requireOpen(t, dialFrom(t, tc.open, srv.Addr()))
			}
			for _, c := range held {
				requireOpen(t, c)
			}
			// A closed connection frees its slot.
			require.NoError(t, held[0].Close())
			eventually(t, "a freed slot", func() bool {
				c := dialFrom(t, tc.held[0], srv.Addr())
				defer c.Close()
				if _, err := c.Write(encodeHeader(headerRPC, 0)); err != nil {
					return false
				}
				var ack [1]byte
				_, err := io.ReadFull(c, ack[:])
				return err == nil
			})
		})
	}
}

// TestMaxHandlersPerConn: requests on one connection beyond
// MaxHandlersPerConn wait for a running handler to return, then run; none
// fails. It runs on fake time (synctest), so "no more than the cap ran" is
// checked exactly.
func TestMaxHandlersPerConn(t *testing.T) {
	const limit, requests = 2, 5
	synctest.Test(t, func(t *testing.T) {
		var running, peak, started atomic.Int64
		release := make(chan struct{})
		handler := func(ctx context.Context, req []byte) ([]byte, error) {
			started.Add(1)
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			defer running.Add(-1)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return req, nil
		}
		ln := newPipeListener()
		newTransport(t, Config{Listener: ln, Handler: handler, MaxHandlersPerConn: limit})
		c := ln.dial(t)
		var ack [1]byte
		go func() { _, _ = c.Write(encodeHeader(headerRPC, 0)) }()
		_, err := io.ReadFull(c, ack[:])
		require.NoError(t, err)
		go func() { // net.Pipe is unbuffered: the writes wait for the reader
			bw := bufio.NewWriter(c)
			for i := range requests {
				_ = writeFrame(bw, frame{kind: frameRequest, id: uint64(i + 1), payload: []byte{byte(i)}})
				_ = bw.Flush()
			}
		}()
		synctest.Wait()
		require.EqualValues(t, limit, started.Load(), "handlers started while %d may run", limit)
		replies := make(chan frame, requests)
		go func() {
			br := bufio.NewReader(c)
			for {
				f, err := readFrame(br)
				if err != nil {
					return
				}
				replies <- f
			}
		}()
		for done := 0; done < requests; done++ {
			release <- struct{}{} // one handler returns, the next may start
			f := <-replies
			require.Equal(t, frameResponse, f.kind)
			synctest.Wait()
			require.LessOrEqual(t, running.Load(), int64(limit))
		}
		require.EqualValues(t, requests, started.Load())
		require.EqualValues(t, limit, peak.Load())
	})
}

// TestRaftFrameCaps: raft frames are refused on their header alone when
// their kind is unknown or their length exceeds the kind's cap, and a
// frame within the cap that never delivers its payload costs the
// acceptor only what arrived.
func TestRaftFrameCaps(t *testing.T) {
	hdr := func(kind byte, n uint32) []byte {
		return binary.BigEndian.AppendUint32([]byte{kind}, n)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"unknown kind", hdr(42, 10), ErrBadFrame},
		{"append over MaxRaftMessageSize", hdr(raftAppendEntries, MaxRaftMessageSize+1), ErrTooLarge},
		{"forged max length", hdr(raftAppendEntries, 0xFFFFFFFF), ErrTooLarge},
		{"vote over its cap", hdr(raftRequestVote, maxRaftVoteSize+1), ErrTooLarge},
		{"timeout-now over its cap", hdr(raftTimeoutNow, maxRaftVoteSize+1), ErrTooLarge},
		{"snapshot header over its cap", hdr(raftInstallSnapshot, maxRaftSnapshotSize+1), ErrTooLarge},
		{"truncated append", append(hdr(raftAppendEntries, MaxRaftMessageSize), make([]byte, 100)...), io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alloc := allocs.Least(3, func() {
				_, err := readRaftRequest(bytes.NewReader(tc.in))
				require.ErrorIs(t, err, tc.want)
			})
			require.Less(t, alloc, uint64(1<<20), "refusing it allocated %d bytes", alloc)
		})
	}
	t.Run("reply status", func(t *testing.T) {
		require.ErrorIs(t, checkRaftHeader([5]byte{7}, true), ErrBadFrame)
		var h [5]byte
		binary.BigEndian.PutUint32(h[1:], maxRaftReplySize+1)
		require.ErrorIs(t, checkRaftHeader(h, true), ErrTooLarge)
	})
	t.Run("encoder refuses what the peer would", func(t *testing.T) {
		_, err := encodeRaftRequest(nil, &raft.RequestVoteRequest{Candidate: make([]byte, maxRaftVoteSize)})
		require.ErrorIs(t, err, ErrTooLarge)
	})
}
