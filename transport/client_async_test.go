package transport

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// goResult starts a Go call and returns its outcome, failing if it does
// not come or comes twice.
func goResult(tb testing.TB, cli *Transport, ctx context.Context, addr string, req []byte) CallResult {
	tb.Helper()
	done := make(chan CallResult, 2)
	cli.Go(ctx, addr, req, done)
	var r CallResult
	select {
	case r = <-done:
	case <-time.After(waitFor):
		tb.Fatal("no outcome from Go")
	}
	select {
	case again := <-done:
		tb.Fatalf("a second outcome: %+v", again)
	case <-time.After(50 * time.Millisecond):
	}
	require.Equal(tb, addr, r.Addr)
	return r
}

func TestGo(t *testing.T) {
	srv := newTransport(t, Config{Handler: echo})
	cli := newTransport(t, Config{})

	t.Run("no connection yet: dials in the background", func(t *testing.T) {
		r := goResult(t, cli, testCtx(t), srv.Addr(), []byte("first"))
		require.NoError(t, r.Err)
		require.Equal(t, "first", string(r.Resp))
	})
	t.Run("live connection: queued directly", func(t *testing.T) {
		for i := range 2 * connsPerPeer { // every slot has a connection now
			_, err := cli.Call(testCtx(t), srv.Addr(), []byte{byte(i)})
			require.NoError(t, err)
		}
		require.NotNil(t, cli.liveConn(srv.Addr()))
		r := goResult(t, cli, testCtx(t), srv.Addr(), []byte("second"))
		require.NoError(t, r.Err)
		require.Equal(t, "second", string(r.Resp))
	})
	t.Run("unreachable", func(t *testing.T) {
		r := goResult(t, cli, testCtx(t), freeAddr(t), []byte("x"))
		require.ErrorIs(t, r.Err, ErrUnreachable)
	})
	t.Run("ctx already ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := goResult(t, cli, ctx, srv.Addr(), []byte("x"))
		require.ErrorIs(t, r.Err, ErrUnreachable)
		require.ErrorIs(t, r.Err, context.Canceled)
	})
	t.Run("too large", func(t *testing.T) {
		r := goResult(t, cli, testCtx(t), srv.Addr(), make([]byte, MaxMessageSize+1))
		require.ErrorIs(t, r.Err, ErrTooLarge)
	})
}

// TestGoCancel cancels a Go call whose handler is running: the outcome is
// the cancellation (sent, so not ErrUnreachable), delivered once, and the
// handler's ctx is canceled.
func TestGoCancel(t *testing.T) {
	started := make(chan struct{}, 1)
	handlerDone := make(chan error, 1)
	srv := newTransport(t, Config{Handler: func(ctx context.Context, req []byte) ([]byte, error) {
		if string(req) != "wait" {
			return req, nil
		}
		started <- struct{}{}
		<-ctx.Done()
		handlerDone <- ctx.Err()
		return nil, ctx.Err()
	}})
	cli := newTransport(t, Config{})
	for range 2 * connsPerPeer {
		_, err := cli.Call(testCtx(t), srv.Addr(), []byte("warm"))
		require.NoError(t, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan CallResult, 2)
	cli.Go(ctx, srv.Addr(), []byte("wait"), done)
	<-started
	require.Empty(t, done)
	cancel()
	select {
	case r := <-done:
		require.ErrorIs(t, r.Err, context.Canceled)
		require.NotErrorIs(t, r.Err, ErrUnreachable, "the request was sent")
	case <-time.After(waitFor):
		t.Fatal("no outcome after cancel")
	}
	select {
	case err := <-handlerDone:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(waitFor):
		t.Fatal("handler ctx not canceled by the cancel frame")
	}
	select {
	case r := <-done:
		t.Fatalf("a second outcome: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestGoClosed checks Go on a closed transport.
func TestGoClosed(t *testing.T) {
	srv := newTransport(t, Config{Handler: echo})
	cli, err := Listen(Config{})
	require.NoError(t, err)
	require.NoError(t, cli.Close())
	r := goResult(t, cli, testCtx(t), srv.Addr(), []byte("x"))
	require.ErrorIs(t, r.Err, ErrClosed)
}
