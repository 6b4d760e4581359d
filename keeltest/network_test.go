package keeltest

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testNet binds n ports, listens on all of them, and returns the network
// and the listeners.
func testNet(tb testing.TB, n int) (*network, []*portListener) {
	tb.Helper()
	ports := make([]*port, n)
	lns := make([]*portListener, n)
	for i := range n {
		p, err := bindPort()
		require.NoError(tb, err)
		tb.Cleanup(p.close)
		ports[i] = p
		lns[i] = p.listen()
		require.NotNil(tb, lns[i])
		tb.Cleanup(func() { _ = lns[i].Close() })
	}
	return newNetwork(ports), lns
}

// pair dials member to from member from and returns both ends.
func pair(tb testing.TB, n *network, lns []*portListener, from, to int) (dialed, accepted net.Conn) {
	tb.Helper()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := lns[to].Accept()
		if err != nil {
			close(acc)
			return
		}
		acc <- c
	}()
	dialed, err := n.dialer(from, nil)(tb.Context(), n.ports[to].addr())
	require.NoError(tb, err)
	accepted, ok := <-acc
	require.True(tb, ok)
	tb.Cleanup(func() { _ = dialed.Close(); _ = accepted.Close() })
	return dialed, accepted
}

// flows requires that a message written on w arrives on r.
func flows(tb testing.TB, w, r net.Conn, msg string) {
	tb.Helper()
	_, err := w.Write([]byte(msg))
	require.NoError(tb, err)
	buf := make([]byte, len(msg))
	require.NoError(tb, r.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadFull(r, buf)
	require.NoError(tb, err)
	require.Equal(tb, msg, string(buf))
}

// silent requires that nothing written on w arrives on r for a while.
func silent(tb testing.TB, w, r net.Conn) {
	tb.Helper()
	_, err := w.Write([]byte("lost"))
	require.NoError(tb, err)
	require.NoError(tb, r.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	var buf [4]byte
	_, err = r.Read(buf[:])
	var ne net.Error
	require.True(tb, errors.As(err, &ne) && ne.Timeout(), "read got %v, want a timeout", err)
}

// closed requires that r's connection was closed under it.
func closed(tb testing.TB, r net.Conn) {
	tb.Helper()
	require.NoError(tb, r.SetReadDeadline(time.Now().Add(10*time.Second)))
	var buf [1]byte
	_, err := r.Read(buf[:])
	require.Error(tb, err)
	var ne net.Error
	require.False(tb, errors.As(err, &ne) && ne.Timeout(), "read timed out instead of failing")
}

func TestNetworkDialRefusedWhileDown(t *testing.T) {
	n, lns := testNet(t, 2)
	require.NoError(t, lns[1].Close())
	_, err := n.dialer(0, nil)(t.Context(), n.ports[1].addr())
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	lns[1] = n.ports[1].listen()
	require.NotNil(t, lns[1])
	d, a := pair(t, n, lns, 0, 1)
	flows(t, d, a, "up again")
}

func TestNetworkCut(t *testing.T) {
	tests := []struct {
		name  string
		fault func(n *network)
		heal  func(n *network)
	}{
		{name: "cut", fault: func(n *network) { n.cut(0, 1) }, heal: func(n *network) { n.heal(1) }},
		{name: "isolate dialer", fault: func(n *network) { n.isolate(0) }, heal: func(n *network) { n.heal(0) }},
		{name: "isolate acceptor", fault: func(n *network) { n.isolate(1) }, heal: func(n *network) { n.healAll() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, lns := testNet(t, 3)
			d, a := pair(t, n, lns, 0, 1)
			d2, a2 := pair(t, n, lns, 2, 1) // a link the fault leaves alone
			tc.fault(n)
			closed(t, a)
			_, err := n.dialer(0, nil)(t.Context(), n.ports[1].addr())
			require.ErrorIs(t, err, ErrPartitioned)
			_, err = n.dialer(1, nil)(t.Context(), n.ports[0].addr())
			require.ErrorIs(t, err, ErrPartitioned)
			if tc.name != "isolate acceptor" {
				flows(t, d2, a2, "unaffected")
			}
			_ = d.Close()
			tc.heal(n)
			d, a = pair(t, n, lns, 0, 1)
			flows(t, d, a, "healed")
		})
	}
}

func TestNetworkHealKeepsOtherIsolation(t *testing.T) {
	n, lns := testNet(t, 3)
	n.isolate(0)
	n.isolate(1)
	n.heal(0)
	_, err := n.dialer(0, nil)(t.Context(), n.ports[1].addr())
	require.ErrorIs(t, err, ErrPartitioned, "1 is still isolated")
	d, a := pair(t, n, lns, 0, 2)
	flows(t, d, a, "0 and 2 talk")
}

func TestNetworkLose(t *testing.T) {
	tests := []struct {
		name     string
		from, to int
	}{
		{name: "dialer to acceptor", from: 0, to: 1},
		{name: "acceptor to dialer", from: 1, to: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, lns := testNet(t, 2)
			d, a := pair(t, n, lns, 0, 1)
			ends := map[int]net.Conn{0: d, 1: a}
			n.update(link{tc.from, tc.to}, func(r *linkRule) { r.lose = true })
			silent(t, ends[tc.from], ends[tc.to])
			flows(t, ends[tc.to], ends[tc.from], "the other way flows")
			// The connection that lost bytes stays a black hole after
			// healing; a new one flows.
			n.heal(tc.from)
			silent(t, ends[tc.from], ends[tc.to])
			d, a = pair(t, n, lns, 0, 1)
			flows(t, d, a, "new connection")
			flows(t, a, d, "both ways")
		})
	}
}

func TestNetworkDelayDelivers(t *testing.T) {
	n, lns := testNet(t, 2)
	d, a := pair(t, n, lns, 0, 1)
	n.update(link{0, 1}, func(r *linkRule) { r.delay = time.Millisecond })
	n.update(link{1, 0}, func(r *linkRule) { r.delay = time.Millisecond })
	flows(t, d, a, "late but whole")
	flows(t, a, d, "and back")
	n.healAll()
	require.Empty(t, n.rules)
}

func TestNetworkDialsOthersDirectly(t *testing.T) {
	n, _ := testNet(t, 1)
	other, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer other.Close()
	n.isolate(0)
	c, err := n.dialer(0, nil)(t.Context(), other.Addr().String())
	require.NoError(t, err, "an address outside the cluster is not subject to its faults")
	require.NoError(t, c.Close())
}
