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
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keeldb/keel"
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
	members, cleanup, err := startCluster(3)
	defer cleanup()
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		m := members[w%3]
		s, err := lock.NewSession(ctx, m, lock.WithTTL(10))
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
	s1, err := lock.NewSession(ctx, members[0], lock.WithTTL(10))
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
	s2, err := lock.NewSession(ctx, members[1], lock.WithTTL(10))
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

// startCluster opens n members on loopback in temp dirs. cleanup closes
// them and removes the dirs.
func startCluster(n int) ([]*keel.Store, func(), error) {
	base, err := os.MkdirTemp("", "keel-example-")
	if err != nil {
		return nil, func() {}, err
	}
	var members []*keel.Store
	cleanup := func() {
		for _, m := range members {
			m.Close()
		}
		os.RemoveAll(base)
	}
	peers := make([]keel.Peer, n)
	lns := make([]net.Listener, n)
	for i := range n {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, cleanup, err
		}
		peers[i] = keel.Peer{ID: fmt.Sprintf("m%d", i+1), Addr: lns[i].Addr().String()}
	}
	for i := range n {
		m, err := keel.Open(keel.Config{ID: peers[i].ID, Dir: filepath.Join(base, peers[i].ID), Addr: peers[i].Addr,
			Peers: peers, Listener: lns[i], HeartbeatTimeout: 500 * time.Millisecond})
		if err != nil {
			return nil, cleanup, err
		}
		members = append(members, m)
	}
	return members, cleanup, nil
}
