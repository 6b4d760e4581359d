// Command election runs three replicas of an application in one process,
// each on its own Keel member (3 members on loopback). They campaign for
// leadership; the leader does the singleton work, stamping it with its
// fencing token. The leader then "freezes" (stops renewing its session
// without a word): the next replica takes over once the lease expires.
// That one resigns gracefully and the last replica takes over at once.
//
//	go run ./examples/election
package main

import (
	"context"
	"fmt"
	"log"
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
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c, err := localcluster.Start(3)
	if err != nil {
		return err
	}
	defer c.Close()
	members := c.Members
	fmt.Printf("cluster up; minimum lease TTL %ds\n", members[0].MinLeaseTTL())

	type replica struct {
		name string
		s    *lock.Session
		e    *lock.Election
	}
	won := make(chan *replica, 3)
	for i, m := range members {
		s, err := lock.NewSession(m, lock.WithTTL(1)) // raised to the minimum
		if err != nil {
			return err
		}
		defer s.Close()
		r := &replica{name: fmt.Sprintf("replica-%d", i+1), s: s, e: lock.NewElection(s, "elections/cron")}
		go func() {
			if err := r.e.Campaign(ctx, r.name); err != nil {
				fmt.Printf("%s: campaign ended: %v\n", r.name, err)
				return
			}
			won <- r
		}()
		time.Sleep(100 * time.Millisecond) // campaign in a visible order
	}

	var stoppedAt time.Time
	for term := 1; term <= 3; term++ {
		r := <-won
		if !stoppedAt.IsZero() {
			fmt.Printf("%s took over after %v\n", r.name, time.Since(stoppedAt).Round(100*time.Millisecond))
		}
		fmt.Printf("%s is leader (fencing token %d)\n", r.name, r.e.Rev())
		for job := 1; job <= 3; job++ { // the singleton work, guarded by leadership
			resp, err := members[0].Txn(ctx).If(r.e.IsLeader()).
				Then(keel.OpPut("cron/last-run", fmt.Sprintf("%s job %d token %d", r.name, job, r.e.Rev()))).Commit()
			if err != nil {
				return err
			}
			fmt.Printf("  %s ran job %d (accepted=%v)\n", r.name, job, resp.Succeeded)
			time.Sleep(200 * time.Millisecond)
		}
		stoppedAt = time.Now()
		switch term {
		case 1:
			fmt.Printf("%s freezes: stops renewing its lease (like a hung process)\n", r.name)
			r.s.Orphan()
		case 2:
			fmt.Printf("%s resigns\n", r.name)
			if err := r.e.Resign(ctx); err != nil {
				return err
			}
		default:
			if err := r.e.Resign(ctx); err != nil {
				return err
			}
		}
		<-r.e.Done()
		fmt.Printf("%s knows it is no longer leader\n", r.name)
	}
	return nil
}
