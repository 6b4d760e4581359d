package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/testpki"
)

// joinEcho answers a join request with the request and the common name of
// the verified peer certificate, if any.
func joinEcho(_ context.Context, req []byte, peer JoinPeer) ([]byte, error) {
	if string(req) == "fail" {
		return nil, errors.New("refused")
	}
	cn := ""
	if len(peer.Certificates) > 0 {
		cn = peer.Certificates[0].Subject.CommonName
	}
	return append(append(req, '|'), cn...), nil
}

func TestJoin(t *testing.T) {
	srv := newTransport(t, Config{ClusterID: 7, JoinHandler: joinEcho})
	noJoins := newTransport(t, Config{ClusterID: 7})
	stranger := newTransport(t, Config{ClusterID: 99})
	tests := []struct {
		name    string
		addr    string
		req     []byte
		want    string
		wantErr error
	}{
		{"another cluster ID is served", srv.Addr(), []byte("hello"), "hello|", nil},
		{"handler error", srv.Addr(), []byte("fail"), "", ErrRemote},
		{"no join handler", noJoins.Addr(), []byte("hello"), "", ErrNoHandler},
		{"too large", srv.Addr(), bytes.Repeat([]byte{1}, MaxJoinMessageSize+1), "", ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := stranger.Join(testCtx(t), tc.addr, tc.req)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(resp))
		})
	}
	// The joiner still cannot make calls until it takes the cluster's ID.
	_, err := stranger.Call(testCtx(t), srv.Addr(), []byte("x"))
	require.ErrorIs(t, err, ErrClusterMismatch)
	stranger.SetClusterID(7)
	require.Equal(t, uint64(7), stranger.ClusterID())
	_, err = stranger.Call(testCtx(t), srv.Addr(), []byte("x"))
	require.ErrorIs(t, err, ErrNoHandler) // accepted: srv has no Handler
}

func TestJoinTLSPeerCertificates(t *testing.T) {
	pki := testpki.New(t)
	srvTLS := pki.MemberTLS(t, "srv")
	srvTLS.ClientAuth = tls.VerifyClientCertIfGiven
	srv := newTransport(t, Config{JoinHandler: joinEcho, TLS: srvTLS, RaftTimeout: time.Second})
	noCert := pki.MemberTLS(t, "nocert")
	noCert.Certificates = nil
	tests := []struct {
		name string
		tls  *tls.Config
		want string
	}{
		{"certificate names the joiner", pki.MemberTLS(t, "m7"), "j|m7"},
		{"no certificate", noCert, "j|"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cli := newTransport(t, Config{TLS: tc.tls, RaftTimeout: time.Second})
			resp, err := cli.Join(testCtx(t), srv.Addr(), []byte("j"))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(resp))
		})
	}
}
