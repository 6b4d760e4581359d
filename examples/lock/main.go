// Command lock shows a distributed mutex with fencing: four workers, on
// the members of a 3-member Keel cluster on loopback, take turns holding a
// mutex and write a shared resource only through a transaction guarded by
// their hold (IsOwner), recording their fencing token. A worker that lost
// its lock has its late write refused.
//
//	go run ./examples/lock
package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/examples/internal/localcluster"
	"github.com/keeldb/keel/lock"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := localcluster.Start(3)
	if err != nil {
		return err
	}
	defer c.Close()
	members := c.Members

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		m := members[w%3]
		s, err := lock.NewSession(m, lock.WithTTL(10))
		if err != nil {
			return err
		}
		defer s.Close()
		mu := lock.NewMutex(s, "locks/resource")
		wg.Go(func() {
			if err := mu.Lock(ctx); err != nil {
				errs <- err
				return
			}
			// The write applies only if we still hold the lock.
			resp, err := m.Txn(ctx).If(mu.IsOwner()).
				Then(keel.OpPut("resource", fmt.Sprintf("written by worker %d, token %d", w, mu.Token()))).Commit()
			if err != nil {
				errs <- err
				return
			}
			fmt.Printf("worker %d holds the lock, token %d, guarded write applied=%v\n", w, mu.Token(), resp.Succeeded)
			time.Sleep(150 * time.Millisecond)
			errs <- mu.Unlock(ctx)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}

	// A holder that lost its lock (its session ended, say after a long GC
	// pause) must not write: its guard no longer holds.
	s1, err := lock.NewSession(members[0], lock.WithTTL(10))
	if err != nil {
		return err
	}
	stale := lock.NewMutex(s1, "locks/resource")
	if err := stale.Lock(ctx); err != nil {
		return err
	}
	guard, token := stale.IsOwner(), stale.Token()
	fmt.Printf("worker 9 holds the lock, token %d, then its session is lost\n", token)
	s1.Close() // the lease goes; so does the lock
	s2, err := lock.NewSession(members[1], lock.WithTTL(10))
	if err != nil {
		return err
	}
	defer s2.Close()
	next := lock.NewMutex(s2, "locks/resource")
	if err := next.Lock(ctx); err != nil {
		return err
	}
	fmt.Printf("worker 10 holds the lock, token %d (> %d)\n", next.Token(), token)
	resp, err := members[2].Txn(ctx).If(guard).Then(keel.OpPut("resource", "late write by worker 9")).Commit()
	if err != nil {
		return err
	}
	fmt.Printf("worker 9's late write applied=%v\n", resp.Succeeded)
	gr, err := members[2].Get(ctx, "resource")
	if err != nil {
		return err
	}
	fmt.Printf("resource: %s\n", gr.Kvs[0].Value)
	return next.Unlock(ctx)
}
