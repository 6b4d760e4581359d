package chaos_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/chaos"
)

// echoServer echoes every line back until closed.
func echoServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c) // until either side closes
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func newProxy(t testing.TB) *chaos.Proxy {
	t.Helper()
	p, err := chaos.NewProxy(echoServer(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func dialProxy(t testing.TB, p *chaos.Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip sends a line and reads the echo, within timeout.
func roundTrip(c net.Conn, r *bufio.Reader, line string, timeout time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	s, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return s[:len(s)-1], nil
}

func TestProxyPassesTraffic(t *testing.T) {
	p := newProxy(t)
	c, r := dialProxy(t, p)
	got, err := roundTrip(c, r, "hello", 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, "hello", got)
	require.Zero(t, p.Dropped())
}

func TestProxyFaults(t *testing.T) {
	tests := []struct {
		name     string
		tx, rx   bool
		dropping bool
	}{
		{name: "blackhole tx", tx: true, dropping: true},
		{name: "blackhole rx", rx: true, dropping: true},
		{name: "both", tx: true, rx: true, dropping: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t)
			c, r := dialProxy(t, p)
			_, err := roundTrip(c, r, "before", 5*time.Second)
			require.NoError(t, err)
			p.SetDrop(tc.tx, tc.rx)
			_, err = roundTrip(c, r, "lost", 300*time.Millisecond)
			var ne net.Error
			require.True(t, errors.As(err, &ne) && ne.Timeout(), "a blackholed link times out, got %v", err)
			require.Positive(t, p.Dropped())
			// Sticky: turning the drop off does not revive the connection.
			p.SetDrop(false, false)
			_, err = roundTrip(c, r, "still lost", 300*time.Millisecond)
			require.Error(t, err)
			// Heal closes the tainted connection; a new one works.
			p.Heal()
			_, err = roundTrip(c, r, "closed", 2*time.Second)
			require.Error(t, err)
			c2, r2 := dialProxy(t, p)
			got, err := roundTrip(c2, r2, "after", 5*time.Second)
			require.NoError(t, err)
			require.Equal(t, "after", got)
		})
	}
}

func TestProxyCut(t *testing.T) {
	p := newProxy(t)
	c, r := dialProxy(t, p)
	_, err := roundTrip(c, r, "x", 5*time.Second)
	require.NoError(t, err)
	p.SetCut(true)
	_, err = roundTrip(c, r, "y", 2*time.Second)
	require.Error(t, err, "a cut closes existing connections")
	c2, r2 := dialProxy(t, p)
	_, err = roundTrip(c2, r2, "z", 2*time.Second)
	require.Error(t, err, "a cut refuses new connections")
	require.GreaterOrEqual(t, p.Refused(), int64(2))
	p.Heal()
	c3, r3 := dialProxy(t, p)
	got, err := roundTrip(c3, r3, "ok", 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, "ok", got)
}

func TestProxyDelay(t *testing.T) {
	p := newProxy(t)
	c, r := dialProxy(t, p)
	p.SetDelay(20 * time.Millisecond)
	got, err := roundTrip(c, r, "slow", 5*time.Second)
	require.NoError(t, err, "a delayed link still delivers")
	require.Equal(t, "slow", got)
}

func TestProxyCloseIdempotent(t *testing.T) {
	p, err := chaos.NewProxy("127.0.0.1:1")
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
}

func TestNetwork(t *testing.T) {
	addrs := []string{echoServer(t), echoServer(t), echoServer(t)}
	n, err := chaos.NewNetwork(addrs)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, n.Close()) })
	routes := n.Routes(0)
	require.Len(t, routes, 2)
	require.Equal(t, n.Proxy(0, 1).Addr(), routes[addrs[1]])
	require.NotContains(t, routes, addrs[0], "a member does not route to itself")

	tests := []struct {
		name string
		err  error
	}{
		{name: "isolate out of range", err: n.Isolate(3)},
		{name: "one-way to self", err: n.DropOneWay(1, 1)},
		{name: "one-way out of range", err: n.DropOneWay(0, -1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { require.ErrorIs(t, tc.err, chaos.ErrInvalidArgument) })
	}

	// One-way loss 0→1 breaks requests on 0→1; link 0→2 still works.
	require.NoError(t, n.DropOneWay(0, 1))
	c01, r01 := dialProxy(t, n.Proxy(0, 1))
	_, err = roundTrip(c01, r01, "x", 300*time.Millisecond)
	require.Error(t, err)
	c02, r02 := dialProxy(t, n.Proxy(0, 2))
	_, err = roundTrip(c02, r02, "x", 5*time.Second)
	require.NoError(t, err)
	require.Positive(t, n.Dropped())
	n.Heal()
	c01, r01 = dialProxy(t, n.Proxy(0, 1))
	_, err = roundTrip(c01, r01, "x", 5*time.Second)
	require.NoError(t, err)
}
