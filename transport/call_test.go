package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCallRoundTrip(t *testing.T) {
	srv := newTransport(t, Config{Handler: echo})
	cli := newTransport(t, Config{})
	tests := []struct {
		name string
		req  []byte
	}{
		{"empty", nil},
		{"small", []byte("hello")},
		{"over small-payload threshold", bytes.Repeat([]byte{7}, smallPayload+1)},
		{"1 MiB", bytes.Repeat([]byte("abcdefgh"), 128<<10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := cli.Call(testCtx(t), srv.Addr(), tc.req)
			require.NoError(t, err)
			require.Equal(t, len(tc.req), len(resp))
			require.True(t, bytes.Equal(tc.req, resp))
		})
	}
}

// TestCallConcurrentOutOfOrder runs 100 calls on one peer whose handlers
// finish in reverse arrival order, over at most connsPerPeer connections.
func TestCallConcurrentOutOfOrder(t *testing.T) {
	const n = 100
	var arrived sync.WaitGroup
	arrived.Add(n)
	gates := make([]chan struct{}, n)
	for i := range gates {
		gates[i] = make(chan struct{})
	}
	handler := func(ctx context.Context, req []byte) ([]byte, error) {
		i, err := strconv.Atoi(string(req))
		if err != nil {
			return nil, err
		}
		arrived.Done()
		select {
		case <-gates[i]:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return []byte("resp-" + string(req)), nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cl := &countingListener{Listener: ln}
	srv := newTransport(t, Config{Handler: handler, Listener: cl})
	cli := newTransport(t, Config{})

	ctx := testCtx(t)
	errs := make(chan error, n)
	order := make(chan int, n)
	for i := range n {
		go func() {
			resp, err := cli.Call(ctx, srv.Addr(), []byte(strconv.Itoa(i)))
			if err == nil && string(resp) != fmt.Sprintf("resp-%d", i) {
				err = fmt.Errorf("call %d got %q", i, resp)
			}
			if err == nil {
				order <- i
			}
			errs <- err
		}()
	}
	arrived.Wait() // all 100 handlers running at once
	for i := n - 1; i >= 0; i-- {
		close(gates[i])
		if i%10 == 0 {
			time.Sleep(time.Millisecond) // let some responses overtake
		}
	}
	for range n {
		require.NoError(t, <-errs)
	}
	close(order)
	var got []int
	for i := range order {
		got = append(got, i)
	}
	require.Len(t, got, n)
	require.NotEqual(t, 0, got[0], "responses should not arrive in request order")
	require.LessOrEqual(t, cl.accepted.Load(), int64(connsPerPeer))
}

func TestCallErrors(t *testing.T) {
	boom := func(context.Context, []byte) ([]byte, error) { return nil, errors.New("boom: key missing") }
	panicky := func(context.Context, []byte) ([]byte, error) { panic("kaboom") }
	tests := []struct {
		name    string
		handler Handler
		req     []byte
		want    error
		message string
	}{
		{"handler error", boom, []byte("x"), ErrRemote, "boom: key missing"},
		{"handler panic", panicky, []byte("x"), ErrRemote, "transport: handler panic: kaboom"},
		{"no handler", nil, []byte("x"), ErrNoHandler, ""},
		{"request too large", echo, make([]byte, MaxMessageSize+1), ErrTooLarge, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTransport(t, Config{Handler: tc.handler})
			cli := newTransport(t, Config{})
			_, err := cli.Call(testCtx(t), srv.Addr(), tc.req)
			require.ErrorIs(t, err, tc.want)
			require.NotErrorIs(t, err, ErrUnreachable)
			if tc.message != "" {
				var re *RemoteError
				require.ErrorAs(t, err, &re)
				require.Equal(t, tc.message, re.Message)
				require.Equal(t, srv.Addr(), re.Addr)
			}
		})
	}
}

func TestCallDeadlinePropagation(t *testing.T) {
	type seen struct {
		deadline time.Time
		ok       bool
	}
	got := make(chan seen, 1)
	srv := newTransport(t, Config{Handler: func(ctx context.Context, req []byte) ([]byte, error) {
		d, ok := ctx.Deadline()
		got <- seen{d, ok}
		return nil, nil
	}})
	cli := newTransport(t, Config{})

	t.Run("with deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		want, _ := ctx.Deadline()
		_, err := cli.Call(ctx, srv.Addr(), nil)
		require.NoError(t, err)
		s := <-got
		require.True(t, s.ok)
		require.WithinDuration(t, want, s.deadline, time.Minute)
	})
	t.Run("without deadline", func(t *testing.T) {
		_, err := cli.Call(context.Background(), srv.Addr(), nil)
		require.NoError(t, err)
		require.False(t, (<-got).ok)
	})
	t.Run("expired before send", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
		defer cancel()
		_, err := cli.Call(ctx, srv.Addr(), nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, ErrUnreachable, "a call never sent must say so")
	})
}

// TestCallCancel checks that a canceled call returns at once with a
// context error (outcome unknown), and the peer's handler sees the cancel.
func TestCallCancel(t *testing.T) {
	started := make(chan struct{}, 1)
	handlerDone := make(chan error, 1)
	srv := newTransport(t, Config{Handler: func(ctx context.Context, req []byte) ([]byte, error) {
		started <- struct{}{}
		<-ctx.Done()
		handlerDone <- ctx.Err()
		return nil, ctx.Err()
	}})
	cli := newTransport(t, Config{})

	ctx, cancel := context.WithCancel(context.Background())
	callErr := make(chan error, 1)
	go func() {
		_, err := cli.Call(ctx, srv.Addr(), []byte("wait"))
		callErr <- err
	}()
	<-started
	cancel()
	select {
	case err := <-callErr:
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, ErrUnreachable, "the request was sent")
	case <-time.After(waitFor):
		t.Fatal("Call did not return after cancel")
	}
	select {
	case err := <-handlerDone:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(waitFor):
		t.Fatal("handler ctx not canceled by the cancel frame")
	}
	// The connection is still usable.
	srv2 := newTransport(t, Config{Handler: echo})
	resp, err := cli.Call(testCtx(t), srv2.Addr(), []byte("after"))
	require.NoError(t, err)
	require.Equal(t, "after", string(resp))
}

func TestCallUnreachable(t *testing.T) {
	dialErr := errors.New("injected dial failure")
	tests := []struct {
		name string
		cfg  Config
		addr func(t *testing.T) string
	}{
		{"nothing listening", Config{}, func(t *testing.T) string { return freeAddr(t) }},
		{"dial seam fails", Config{Dial: func(context.Context, string) (net.Conn, error) { return nil, dialErr }},
			func(t *testing.T) string { return newTransport(t, Config{Handler: echo}).Addr() }},
		{"peer never acknowledges", Config{}, func(t *testing.T) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = ln.Close() })
			go func() { // accept and hang up without a byte
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_ = c.Close()
				}
			}()
			return ln.Addr().String()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cli := newTransport(t, tc.cfg)
			_, err := cli.Call(testCtx(t), tc.addr(t), []byte("x"))
			require.ErrorIs(t, err, ErrUnreachable)
			require.NotErrorIs(t, err, ErrConnLost)
		})
	}
}

// TestCallConnLost closes the peer while a call is running on it.
func TestCallConnLost(t *testing.T) {
	started := make(chan struct{}, 1)
	srv, err := Listen(Config{Handler: func(ctx context.Context, req []byte) ([]byte, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	require.NoError(t, err)
	defer srv.Close()
	cli := newTransport(t, Config{})

	callErr := make(chan error, 1)
	go func() {
		_, err := cli.Call(testCtx(t), srv.Addr(), []byte("x"))
		callErr <- err
	}()
	<-started
	require.NoError(t, srv.Close())
	err = <-callErr
	require.ErrorIs(t, err, ErrConnLost)
	require.NotErrorIs(t, err, ErrUnreachable)
}

// TestCallRedial restarts the peer on the same address.
func TestCallRedial(t *testing.T) {
	srv, err := Listen(Config{Handler: echo})
	require.NoError(t, err)
	addr := srv.Addr()
	cli := newTransport(t, Config{})
	_, err = cli.Call(testCtx(t), addr, []byte("one"))
	require.NoError(t, err)

	require.NoError(t, srv.Close())
	_, err = cli.Call(testCtx(t), addr, []byte("two"))
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrUnreachable) || errors.Is(err, ErrConnLost), "got %v", err)

	srv2 := newTransport(t, Config{Addr: addr, Handler: func(_ context.Context, req []byte) ([]byte, error) {
		return append([]byte("v2:"), req...), nil
	}})
	require.Equal(t, addr, srv2.Addr())
	var resp []byte
	eventually(t, "a call to the restarted peer", func() bool {
		resp, err = cli.Call(testCtx(t), addr, []byte("three"))
		return err == nil
	})
	require.Equal(t, "v2:three", string(resp))
}

func TestClosedTransport(t *testing.T) {
	srv := newTransport(t, Config{Handler: echo})
	cli, err := Listen(Config{})
	require.NoError(t, err)
	_, err = cli.Call(testCtx(t), srv.Addr(), []byte("x"))
	require.NoError(t, err)
	require.NoError(t, cli.Close())
	require.NoError(t, cli.Close(), "Close is idempotent")
	_, err = cli.Call(testCtx(t), srv.Addr(), []byte("x"))
	require.ErrorIs(t, err, ErrClosed)
}

// rawConn dials tr and writes the given opening bytes.
func rawConn(t *testing.T, tr *Transport, opening []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", tr.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(waitFor)))
	_, err = c.Write(opening)
	require.NoError(t, err)
	return c
}

// requireClosedByPeer reads until EOF (or reset), failing on a timeout.
func requireClosedByPeer(t *testing.T, c net.Conn) {
	t.Helper()
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("peer did not close the connection")
	}
}

func TestGarbageOnTheWire(t *testing.T) {
	hdr := func(kind byte, length uint32) []byte {
		b := append(encodeHeader(headerRPC, 0), kind, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)
		return append(b, byte(length>>24), byte(length>>16), byte(length>>8), byte(length))
	}
	tests := []struct {
		name    string
		opening []byte
	}{
		{"unknown header byte", []byte("GET / HTTP/1.1\r\n\r\n")},
		{"forged max length", hdr(frameRequest, 0xFFFFFFFF)},
		{"length just over max", hdr(frameRequest, MaxMessageSize+1)},
		{"unknown frame kind", hdr(42, 0)},
		{"server-bound response", hdr(frameResponse, 0)},
	}
	srv := newTransport(t, Config{Handler: echo})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireClosedByPeer(t, rawConn(t, srv, tc.opening))
		})
	}
	// The transport still serves.
	cli := newTransport(t, Config{})
	_, err := cli.Call(testCtx(t), srv.Addr(), []byte("ok"))
	require.NoError(t, err)
}

func TestSilentConnectionTimesOut(t *testing.T) {
	srv := newTransport(t, Config{Handler: echo, HandshakeTimeout: 200 * time.Millisecond})
	requireClosedByPeer(t, rawConn(t, srv, nil))
}

func TestListenConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"unspecified advertise host", Config{Addr: "0.0.0.0:0"}, ErrInvalidConfig},
		{"bad advertise address", Config{AdvertiseAddr: "no-port"}, ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Listen(tc.cfg)
			require.ErrorIs(t, err, tc.want)
		})
	}
	tr := newTransport(t, Config{AdvertiseAddr: "node-a.example:7000"})
	require.Equal(t, "node-a.example:7000", tr.Addr())
	require.Equal(t, "node-a.example:7000", string(tr.Raft().LocalAddr()))
}

// TestCallInline: requests Inline accepts are answered by it, on the
// reader, even while the Handler is blocked; the rest reach the Handler.
func TestCallInline(t *testing.T) {
	release := make(chan struct{})
	srv := newTransport(t, Config{
		Handler: func(ctx context.Context, req []byte) ([]byte, error) {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return append([]byte("handler:"), req...), nil
		},
		Inline: func(req []byte) ([]byte, bool) {
			if len(req) > 0 && req[0] == 'f' {
				return append([]byte("inline:"), req...), true
			}
			return nil, false
		},
	})
	cli := newTransport(t, Config{})
	ctx := testCtx(t)
	slow := make(chan []byte, 1)
	go func() {
		resp, _ := cli.Call(ctx, srv.Addr(), []byte("xyz"))
		slow <- resp
	}()
	tests := []struct{ name, req, want string }{
		{"accepted", "fast", "inline:fast"},
		{"accepted again", "f", "inline:f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := cli.Call(ctx, srv.Addr(), []byte(tc.req))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(resp))
		})
	}
	close(release)
	require.Equal(t, "handler:xyz", string(<-slow), "a declined request reaches the Handler")
}
