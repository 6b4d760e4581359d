package keel

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testLogger returns a logger that prints to stderr when KEEL_TEST_LOG is
// set, and discards otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("KEEL_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openSingle opens a single-member store in a temp dir, closed at cleanup.
func openSingle(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(Config{Dir: tb.TempDir(), Logger: testLogger()})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

// testCtx returns a context that expires well after any healthy operation.
func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
