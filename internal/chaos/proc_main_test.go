package chaos_test

import (
	"context"
	"os/signal"
	"syscall"
	"testing"

	"github.com/keeldb/keel/internal/chaos"
)

// TestChaosMemberProcess is the entry point of a child member of the
// process tier: the harness re-executes the test binary with -test.run
// selecting this test and the member config in chaos.EnvMember. Without
// it, it returns at once.
func TestChaosMemberProcess(t *testing.T) {
	cfg, ok, err := chaos.LoadMemberConfig()
	if !ok {
		return // not a child
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := chaos.RunMember(ctx, cfg, lockHandlers()); err != nil {
		t.Fatal(err)
	}
}
