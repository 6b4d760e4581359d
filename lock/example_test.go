package lock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"sync"

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

func ExampleNewSTM() {
	store, cleanup := openExampleStore()
	defer cleanup()
	ctx := context.Background()
	for _, k := range []string{"accounts/alice", "accounts/bob"} {
		if _, err := store.Put(ctx, k, "100"); err != nil {
			log.Fatal(err)
		}
	}

	// Move 30 from alice to bob. If either balance changes between the
	// reads and the commit, the function runs again on fresh values.
	transfer := func(s lock.STM) error {
		from, _ := strconv.Atoi(s.Get("accounts/alice"))
		to, _ := strconv.Atoi(s.Get("accounts/bob"))
		if from < 30 {
			return errors.New("insufficient funds")
		}
		s.Put("accounts/alice", strconv.Itoa(from-30))
		s.Put("accounts/bob", strconv.Itoa(to+30))
		return nil
	}
	if _, err := lock.NewSTM(store, transfer, lock.WithAbortContext(ctx)); err != nil {
		log.Fatal(err)
	}
	resp, err := store.Get(ctx, "accounts/", keel.WithPrefix())
	if err != nil {
		log.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		fmt.Printf("%s=%s\n", kv.Key, kv.Value)
	}
	// Output:
	// accounts/alice=70
	// accounts/bob=130
}

func ExampleNewLocker() {
	store, cleanup := openExampleStore()
	defer cleanup()

	s, err := lock.NewSession(store)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// A sync.Locker for code that takes one; Lock and Unlock panic on
	// failure, since sync.Locker cannot return errors.
	var mu sync.Locker = lock.NewLocker(s, "locks/cache")
	mu.Lock()
	fmt.Println("locked")
	mu.Unlock()
	// Output:
	// locked
}
