package registry_test

import (
	"testing"

	"go.uber.org/goleak"

	registry "example.com/keeltestuser"

	"github.com/keeldb/keel/keeltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRegistrySurvivesLeaderCrash runs the service against a keeltest
// cluster, kills the leader, and checks that the service's data survives
// and that the restarted member has it too.
func TestRegistrySurvivesLeaderCrash(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	if err := registry.New(c.Follower()).Add(ctx, "w1", "10.0.0.1:80"); err != nil {
		t.Fatal(err)
	}
	l := c.Index(c.Leader())
	c.Crash(l)
	if err := registry.New(c.Leader()).Add(ctx, "w2", "10.0.0.2:80"); err != nil {
		t.Fatal(err)
	}
	c.Restart(l)
	n, err := registry.New(c.Member(l)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("restarted member counts %d workers, want 2", n)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
}
