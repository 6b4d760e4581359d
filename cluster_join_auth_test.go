package keel_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// testCA is a throwaway certificate authority for member certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(tb testing.TB) *testCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keel test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// memberTLS returns a mutual-TLS config whose certificate names member
// name (as its common name) on 127.0.0.1.
func (ca *testCA) memberTLS(tb testing.TB, name string) *tls.Config {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(tb, err)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      ca.pool, ClientCAs: ca.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13,
	}
}

// requireMembers requires c's member list to name exactly names.
func requireMembers(tb testing.TB, s *keel.Store, names ...string) {
	tb.Helper()
	var got []string
	for _, m := range memberList(tb, s) {
		got = append(got, m.Name)
	}
	require.ElementsMatch(tb, names, got)
}

func TestJoinTokenAuthorisation(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	tests := []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"wrong token", "not-" + keeltest.ClusterToken},
		{"token with a prefix of the right one", keeltest.ClusterToken[:3]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.JoinErr(func(cfg *keel.Config) {
				cfg.ClusterToken = tc.token
				cfg.JoinTimeout = 10 * time.Second
			})
			require.ErrorIs(t, err, keel.ErrJoinRefused)
			requireMembers(t, c.Member(0), "m0", "m1", "m2")
		})
	}
	t.Run("a cluster without a token takes no joins", func(t *testing.T) {
		c := keeltest.NewCluster(t, 1, keeltest.WithConfig(func(_ int, cfg *keel.Config) { cfg.ClusterToken = "" }))
		_, err := c.JoinErr(nil)
		require.ErrorIs(t, err, keel.ErrJoinRefused)
		requireMembers(t, c.Member(0), "m0")
	})
	n := c.Join(nil)
	requireMembers(t, c.Member(n), "m0", "m1", "m2", fmt.Sprintf("m%d", n))
}

func TestJoinTLSAuthorisation(t *testing.T) {
	ca := newTestCA(t)
	c := keeltest.NewCluster(t, 3, keeltest.WithConfig(func(i int, cfg *keel.Config) {
		cfg.TLS = ca.memberTLS(t, cfg.ID)
		cfg.ClusterToken = "" // TLS alone authorises
	}))
	other := newTestCA(t)
	tests := []struct {
		name string
		tls  func(id string) *tls.Config
	}{
		{"certificate naming another member", func(string) *tls.Config { return ca.memberTLS(t, "m0") }},
		{"certificate from another CA", func(id string) *tls.Config { return other.memberTLS(t, id) }},
		{"no certificate", func(id string) *tls.Config {
			cfg := ca.memberTLS(t, id)
			cfg.Certificates = nil
			return cfg
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.JoinErr(func(cfg *keel.Config) {
				cfg.TLS = tc.tls(cfg.ID)
				cfg.ClusterToken = keeltest.ClusterToken // a token does not replace the certificate
				cfg.JoinTimeout = 5 * time.Second
			})
			require.ErrorIs(t, err, keel.ErrJoinRefused)
			requireMembers(t, c.Member(0), "m0", "m1", "m2")
		})
	}
	n := c.Join(func(cfg *keel.Config) { cfg.TLS = ca.memberTLS(t, cfg.ID) })
	requireMembers(t, c.Member(n), "m0", "m1", "m2", fmt.Sprintf("m%d", n))
}
