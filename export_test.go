package keel

import (
	"context"
	"net"
	"time"
)

// Test-only exports for the external (package keel_test) chaos suite,
// which cannot live in package keel because internal/chaos imports keel.

// Crash stops the member as a killed process would (no leadership
// hand-over; the database keeps only what it had committed).
func (s *Store) Crash() error { return s.crash() }

// TestNet is the fault-injecting network of testnet_test.go.
type TestNet struct{ n *testNet }

// NewTestNet returns a healthy network.
func NewTestNet() *TestNet { return &TestNet{n: newTestNet()} }

// Dialer returns the Config.Dial of the member at from.
func (t *TestNet) Dialer(from string) func(ctx context.Context, addr string) (net.Conn, error) {
	return t.n.dialer(from)
}

// Cut blocks traffic between a and b both ways.
func (t *TestNet) Cut(a, b string) { t.n.cut(a, b) }

// Lose drops traffic from a to b.
func (t *TestNet) Lose(a, b string) { t.n.lose(a, b) }

// Delay delays traffic from a to b by d.
func (t *TestNet) Delay(a, b string, d time.Duration) { t.n.delay(a, b, d) }

// Heal lifts every rule.
func (t *TestNet) Heal() { t.n.heal() }
