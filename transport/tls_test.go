package transport

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/testpki"
)

func TestTLSCall(t *testing.T) {
	pki := testpki.New(t)
	srv := newTransport(t, Config{Handler: echo, TLS: pki.MemberTLS(t, "srv"), RaftTimeout: time.Second})
	other := testpki.New(t)
	noCert := pki.MemberTLS(t, "nocert")
	noCert.Certificates = nil
	tests := []struct {
		name    string
		tls     *tls.Config
		wantErr error
	}{
		{"member certificate", pki.MemberTLS(t, "cli"), nil},
		{"certificate from another CA", other.MemberTLS(t, "intruder"), ErrUnreachable},
		{"no client certificate", noCert, ErrUnreachable},
		{"plaintext client", nil, ErrUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cli := newTransport(t, Config{TLS: tc.tls, RaftTimeout: time.Second})
			resp, err := cli.Call(testCtx(t), srv.Addr(), []byte("secret"))
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "secret", string(resp))
		})
	}
}
