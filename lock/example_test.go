package lock_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/lock"
)

// openExampleStore opens a single-member store in a temp dir.
func openExampleStore() (*keel.Store, func()) {
	dir, err := os.MkdirTemp("", "keel-lock-example-")
	if err != nil {
		log.Fatal(err)
	}
	s, err := keel.Open(keel.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }
}

func ExampleNewSession() {
	store, cleanup := openExampleStore()
	defer cleanup()
	ctx := context.Background()

	s, err := lock.NewSession(store, lock.WithTTL(10))
	if err != nil {
		log.Fatal(err)
	}
	// Keys attached to the session's lease live as long as the session.
	if _, err := store.Put(ctx, "workers/w1", "alive", keel.WithLease(s.Lease())); err != nil {
		log.Fatal(err)
	}
	s.Close() // revokes the lease: its keys are deleted
	<-s.Done()
	resp, err := store.Get(ctx, "workers/w1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("keys left after Close:", len(resp.Kvs))
	// Output:
	// keys left after Close: 0
}

func ExampleMutex() {
	store, cleanup := openExampleStore()
	defer cleanup()
	ctx := context.Background()

	s1, _ := lock.NewSession(store)
	defer s1.Close()
	s2, _ := lock.NewSession(store)
	defer s2.Close()
	m1, m2 := lock.NewMutex(s1, "locks/report"), lock.NewMutex(s2, "locks/report")

	if err := m1.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("m2.TryLock:", m2.TryLock(ctx))

	// Guard the protected write with the lock: it applies only while m1
	// still holds it.
	resp, err := store.Txn(ctx).If(m1.IsOwner()).Then(keel.OpPut("report", "by m1")).Commit()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("guarded write applied:", resp.Succeeded)
	first := m1.Token()
	if err := m1.Unlock(ctx); err != nil {
		log.Fatal(err)
	}
	if err := m2.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("next holder has a higher fencing token:", m2.Token() > first)
	m2.Unlock(ctx)
	// Output:
	// m2.TryLock: lock: locked by another session
	// guarded write applied: true
	// next holder has a higher fencing token: true
}

func ExampleElection() {
	store, cleanup := openExampleStore()
	defer cleanup()
	ctx := context.Background()

	s, _ := lock.NewSession(store)
	defer s.Close()
	e := lock.NewElection(s, "elections/cron")
	if err := e.Campaign(ctx, "replica-1"); err != nil {
		log.Fatal(err)
	}
	leader, err := e.Leader(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("leader:", string(leader.Kvs[0].Value))
	// Done closes when leadership ends: resigning, session expiry, or
	// the key being deleted.
	if err := e.Resign(ctx); err != nil {
		log.Fatal(err)
	}
	<-e.Done()
	_, err = e.Leader(ctx)
	fmt.Println(err)
	// Output:
	// leader: replica-1
	// lock: election: no leader
}
