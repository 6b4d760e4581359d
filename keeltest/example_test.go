package keeltest_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// exampleT stands in for the *testing.T a test passes, so that the
// examples below run as documentation. It provides the testing.TB methods
// keeltest calls; the embedded interface is never used.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func (t *exampleT) Helper()                   {}
func (t *exampleT) Logf(string, ...any)       {}
func (t *exampleT) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Errorf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (t *exampleT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

func (t *exampleT) TempDir() string {
	dir, err := os.MkdirTemp("", "keeltest-example-")
	if err != nil {
		panic(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// finish runs the cleanups, last registered first, as a test's end does.
func (t *exampleT) finish() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// A three-member cluster: a write through a follower is visible on every
// member.
func ExampleNewCluster() {
	t := &exampleT{} // in a test: the test's t
	defer t.finish()
	ctx := context.Background()

	c := keeltest.NewCluster(t, 3)
	if _, err := c.Follower().Put(ctx, "config/mode", "active"); err != nil {
		panic(err)
	}
	for _, s := range c.Members() {
		gr, err := s.Get(ctx, "config/mode")
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %s\n", s.ID(), gr.Kvs[0].Value)
	}
	// Output:
	// m0: active
	// m1: active
	// m2: active
}

// The leader is killed: the others elect a new one, and the old leader
// comes back on its data with every acknowledged write.
func ExampleCluster_Crash() {
	t := &exampleT{}
	defer t.finish()
	ctx := context.Background()

	c := keeltest.NewCluster(t, 3)
	old := c.Leader()
	if _, err := old.Put(ctx, "jobs/1", "queued"); err != nil {
		panic(err)
	}
	i := c.Index(old)
	c.Crash(i)
	fmt.Println("new leader elected:", c.Leader() != old)
	if _, err := c.Leader().Put(ctx, "jobs/2", "queued"); err != nil {
		panic(err)
	}

	c.Restart(i)
	gr, err := c.Member(i).Get(ctx, "jobs/", keel.WithPrefix(), keel.WithCountOnly())
	if err != nil {
		panic(err)
	}
	fmt.Println("jobs on the restarted member:", gr.Count)
	fmt.Println("members agree:", c.WaitConverged(ctx) == nil)
	// Output:
	// new leader elected: true
	// jobs on the restarted member: 2
	// members agree: true
}

// A partitioned leader cannot serve linearizable reads; the majority
// elects a leader of its own, and the old one catches up once healed.
func ExampleCluster_Isolate() {
	t := &exampleT{}
	defer t.finish()
	ctx := context.Background()

	c := keeltest.NewCluster(t, 3)
	old := c.Leader()
	c.Isolate(c.Index(old))

	if _, err := c.Leader().Put(ctx, "k", "written by the majority"); err != nil {
		panic(err)
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err := old.Get(rctx, "k")
	cancel()
	fmt.Println("isolated member serves reads:", err == nil)

	c.Heal(c.Index(old))
	gr, err := old.Get(ctx, "k")
	if err != nil {
		panic(err)
	}
	fmt.Printf("after healing: %s\n", gr.Kvs[0].Value)
	// Output:
	// isolated member serves reads: false
	// after healing: written by the majority
}
