// Command cluster runs a 3-member Keel cluster inside one process on
// loopback and shows replication at work: a write on a follower, a
// linearizable read on another member, a transaction, the leader stopping,
// writes continuing under the new leader, and the old leader restarting on
// its data and catching up. Then a watch, a distributed lock and a leader
// election across the members.
//
//	go run ./examples/cluster
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Three members, each with its own data dir and a fixed loopback port.
	c, err := localcluster.Start(3)
	if err != nil {
		return err
	}
	defer c.Close()
	members := c.Members // by position; Stop and Restart update it

	leader, err := c.WaitLeader(ctx)
	if err != nil {
		return err
	}
	follower := (leader + 1) % 3
	other := (leader + 2) % 3
	fmt.Printf("leader is %s\n", members[leader].ID())

	// Every member accepts writes: a follower forwards to the leader.
	pr, err := members[follower].Put(ctx, "config/greeting", "hello")
	if err != nil {
		return err
	}
	fmt.Printf("put on follower %s -> revision %d\n", members[follower].ID(), pr.Header.Revision)

	// Reads are linearizable on any member: the write is visible at once.
	gr, err := members[other].Get(ctx, "config/greeting")
	if err != nil {
		return err
	}
	fmt.Printf("get on %s -> %s=%s (mod revision %d)\n", members[other].ID(), gr.Kvs[0].Key, gr.Kvs[0].Value, gr.Kvs[0].ModRevision)

	// Compare-and-swap with a transaction.
	tr, err := members[other].Txn(ctx).
		If(keel.Compare(keel.Value("config/greeting"), "=", "hello")).
		Then(keel.OpPut("config/greeting", "hello, keel")).
		Commit()
	if err != nil {
		return err
	}
	fmt.Printf("txn compare-and-swap succeeded=%v at revision %d\n", tr.Succeeded, tr.Header.Revision)

	// Stop the leader; the others elect a new one and keep serving.
	stopped := leader
	fmt.Printf("stopping leader %s\n", members[stopped].ID())
	if err := c.Stop(stopped); err != nil {
		return err
	}
	start := time.Now()
	if leader, err = c.WaitLeader(ctx); err != nil {
		return err
	}
	fmt.Printf("new leader %s after %v (Close hands leadership over)\n", members[leader].ID(), time.Since(start).Round(time.Millisecond))
	for i := range 5 {
		m := members[(stopped+1+i%2)%3]
		if _, err := m.Put(ctx, fmt.Sprintf("jobs/%d", i), "queued"); err != nil {
			return err
		}
	}
	fmt.Println("wrote jobs/0..4 while the old leader was down")

	// Restart the old leader on its data: it catches up from the others.
	if err := c.Restart(ctx, stopped); err != nil {
		return err
	}
	gr, err = members[stopped].Get(ctx, "jobs/", keel.WithPrefix(), keel.WithCountOnly())
	if err != nil {
		return err
	}
	fmt.Printf("restarted %s sees %d jobs and greeting revision history intact\n", members[stopped].ID(), gr.Count)
	gr, err = members[stopped].Get(ctx, "config/greeting", keel.WithRev(pr.Header.Revision))
	if err != nil {
		return err
	}
	fmt.Printf("history: config/greeting at revision %d was %q\n", pr.Header.Revision, gr.Kvs[0].Value)
	return coordination(ctx, members)
}

// coordination shows a watch, a lock and an election across the members.
func coordination(ctx context.Context, members []*keel.Store) error {
	// A watch on one member sees a write made through another.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wch := members[0].Watch(wctx, "config/", keel.WithPrefix())
	if _, err := members[2].Put(ctx, "config/greeting", "hello again"); err != nil {
		return err
	}
	for _, ev := range (<-wch).Events {
		fmt.Printf("watch on %s: %s %s=%s\n", members[0].ID(), ev.Type, ev.Kv.Key, ev.Kv.Value)
	}

	// Sessions: leases kept alive, one per participant.
	sessions := make([]*lock.Session, 2)
	for i := range sessions {
		s, err := lock.NewSession(members[i], lock.WithTTL(10))
		if err != nil {
			return err
		}
		defer s.Close()
		sessions[i] = s
	}

	// A mutex: the second contender gets ErrLocked until the first unlocks.
	m1, m2 := lock.NewMutex(sessions[0], "locks/job"), lock.NewMutex(sessions[1], "locks/job")
	if err := m1.Lock(ctx); err != nil {
		return err
	}
	fmt.Printf("lock held via %s with fencing token %d; other contender: %v\n", members[0].ID(), m1.Token(), m2.TryLock(ctx))
	if err := m1.Unlock(ctx); err != nil {
		return err
	}
	if err := m2.Lock(ctx); err != nil {
		return err
	}
	fmt.Printf("lock passed to %s with fencing token %d\n", members[1].ID(), m2.Token())
	if err := m2.Unlock(ctx); err != nil {
		return err
	}

	// An election: the first campaigner leads; when it resigns, the next does.
	e1, e2 := lock.NewElection(sessions[0], "elections/cron"), lock.NewElection(sessions[1], "elections/cron")
	if err := e1.Campaign(ctx, "replica-1"); err != nil {
		return err
	}
	elected := make(chan error, 1)
	go func() { elected <- e2.Campaign(ctx, "replica-2") }()
	leader, err := e2.Leader(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("election leader: %s\n", leader.Kvs[0].Value)
	if err := e1.Resign(ctx); err != nil {
		return err
	}
	if err := <-elected; err != nil {
		return err
	}
	fmt.Printf("replica-1 resigned; new leader: replica-2 (token %d > %d)\n", e2.Rev(), e1.Rev())
	return e2.Resign(ctx)
}
