package keel_test

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/testpki"
	"github.com/keeldb/keel/keeltest"
)

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
	ca := testpki.New(t)
	c := keeltest.NewCluster(t, 3, keeltest.WithConfig(func(i int, cfg *keel.Config) {
		cfg.TLS = ca.MemberTLS(t, cfg.ID)
		cfg.ClusterToken = "" // TLS alone authorises
	}))
	other := testpki.New(t)
	tests := []struct {
		name string
		tls  func(id string) *tls.Config
	}{
		{"certificate naming another member", func(string) *tls.Config { return ca.MemberTLS(t, "m0") }},
		{"certificate from another CA", func(id string) *tls.Config { return other.MemberTLS(t, id) }},
		{"no certificate", func(id string) *tls.Config {
			cfg := ca.MemberTLS(t, id)
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
	n := c.Join(func(cfg *keel.Config) { cfg.TLS = ca.MemberTLS(t, cfg.ID) })
	requireMembers(t, c.Member(n), "m0", "m1", "m2", fmt.Sprintf("m%d", n))
}
