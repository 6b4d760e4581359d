package testpki_test

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/keeldb/keel/internal/testpki"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// handshake runs a TLS handshake between a client and a server config
// over loopback and returns the name on the certificate the server
// verified ("" if it refused) and the client's error.
func handshake(t *testing.T, cli, srv *tls.Config) (string, error) {
	t.Helper()
	// Loopback TCP, not net.Pipe: both sides may write at once (an
	// alert against a flight), which a synchronous pipe deadlocks on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer a.Close()
	b, err := ln.Accept()
	require.NoError(t, err)
	defer b.Close()
	cli = cli.Clone()
	cli.ServerName = "127.0.0.1"
	peer := make(chan string, 1)
	go func() {
		s := tls.Server(b, srv)
		if s.HandshakeContext(t.Context()) != nil || len(s.ConnectionState().PeerCertificates) == 0 {
			peer <- ""
			_ = b.Close()
			return
		}
		peer <- s.ConnectionState().PeerCertificates[0].Subject.CommonName
	}()
	err = tls.Client(a, cli).HandshakeContext(t.Context())
	if err != nil {
		_ = a.Close()
	}
	return <-peer, err
}

func TestMemberTLS(t *testing.T) {
	ca, other := testpki.New(t), testpki.New(t)
	tests := []struct {
		name     string
		cli      *tls.Config
		wantPeer string // "" = refused
	}{
		{"member of the same CA", ca.MemberTLS(t, "m1"), "m1"},
		{"member of another CA", other.MemberTLS(t, "intruder"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			peer, err := handshake(t, tc.cli, ca.MemberTLS(t, "m0"))
			require.Equal(t, tc.wantPeer, peer)
			if tc.wantPeer == "" {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
		})
	}
}
