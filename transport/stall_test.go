package transport

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// blackholeConn swallows everything written to it once hole is set, as a
// link that silently stopped delivering would.
type blackholeConn struct {
	net.Conn
	hole *atomic.Bool
}

func (c blackholeConn) Write(p []byte) (int, error) {
	if c.hole.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// TestStalledConnectionIsReplaced black-holes a live RPC connection: the
// call sent into it times out, the connection is taken for dead, and the
// next call succeeds over a fresh one instead of vanishing too.
func TestStalledConnectionIsReplaced(t *testing.T) {
	server := newTransport(t, Config{Handler: echo})
	var hole atomic.Bool
	var mu sync.Mutex
	dials := 0
	client := newTransport(t, Config{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		dials++
		mu.Unlock()
		return blackholeConn{Conn: c, hole: &hole}, nil
	}})
	ctx := testCtx(t)
	// Open both pooled connections.
	for range connsPerPeer {
		_, err := client.Call(ctx, server.Addr(), []byte("warm"))
		require.NoError(t, err)
	}
	hole.Store(true)
	for range connsPerPeer {
		short, cancel := context.WithTimeout(ctx, stallTimeout+500*time.Millisecond)
		_, err := client.Call(short, server.Addr(), []byte("lost"))
		cancel()
		require.ErrorIs(t, err, ErrConnLost, "a call into a dead link must report an unknown outcome")
	}
	hole.Store(false)
	resp, err := client.Call(ctx, server.Addr(), []byte("after"))
	require.NoError(t, err)
	require.Equal(t, "after", string(resp))
	mu.Lock()
	defer mu.Unlock()
	require.Greater(t, dials, connsPerPeer, "the stalled connections were not replaced")
}

// TestSlowHandlerIsNotAStall keeps a handler busy for twice stallTimeout:
// the server's pongs keep the connection alive, so the call succeeds.
func TestSlowHandlerIsNotAStall(t *testing.T) {
	server := newTransport(t, Config{Handler: func(ctx context.Context, req []byte) ([]byte, error) {
		select {
		case <-time.After(2 * stallTimeout):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return req, nil
	}})
	client := newTransport(t, Config{})
	resp, err := client.Call(testCtx(t), server.Addr(), []byte("slow"))
	require.NoError(t, err)
	require.Equal(t, "slow", string(resp))
}

// TestStallDetectedWithShortCalls black-holes a connection while callers
// give up quickly (shorter than stallTimeout each): the connection must
// still be taken for dead, not kept alive by a stream of new calls.
func TestStallDetectedWithShortCalls(t *testing.T) {
	server := newTransport(t, Config{Handler: echo})
	var hole atomic.Bool
	client := newTransport(t, Config{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return blackholeConn{Conn: c, hole: &hole}, nil
	}})
	ctx := testCtx(t)
	_, err := client.Call(ctx, server.Addr(), []byte("warm"))
	require.NoError(t, err)
	hole.Store(true)
	// Calls made while the hole lasts vanish; the connections they used
	// are replaced, and the replacements are black-holed too (the hole is
	// in the dialer's connections), until the hole closes.
	deadline := time.Now().Add(3 * stallTimeout)
	for time.Now().Before(deadline) {
		short, cancel := context.WithTimeout(ctx, stallTimeout/5)
		_, _ = client.Call(short, server.Addr(), []byte("lost"))
		cancel()
	}
	hole.Store(false)
	require.Eventually(t, func() bool {
		short, cancel := context.WithTimeout(ctx, stallTimeout/5)
		defer cancel()
		resp, err := client.Call(short, server.Addr(), []byte("after"))
		return err == nil && string(resp) == "after"
	}, waitFor, 10*time.Millisecond, "calls keep vanishing into stalled connections")
}
