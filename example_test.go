package keel_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/keeldb/keel"
)

func Example() {
	dir, err := os.MkdirTemp("", "keel-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := keel.Open(keel.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	put, err := s.Put(ctx, "config/mode", "active")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Put(ctx, "config/replicas", "3"); err != nil {
		log.Fatal(err)
	}
	resp, err := s.Get(ctx, "config/", keel.WithPrefix())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first put at revision", put.Header.Revision)
	for _, kv := range resp.Kvs {
		fmt.Printf("%s=%s version=%d\n", kv.Key, kv.Value, kv.Version)
	}
	// Output:
	// first put at revision 2
	// config/mode=active version=1
	// config/replicas=3 version=1
}

// openTemp opens a single-member store in a new temporary directory, as
// Example does; closeStore closes it and removes the directory.
func openTemp() (s *keel.Store, closeStore func()) {
	dir, err := os.MkdirTemp("", "keel-example-")
	if err != nil {
		log.Fatal(err)
	}
	if s, err = keel.Open(keel.Config{Dir: dir}); err != nil {
		os.RemoveAll(dir)
		log.Fatal(err)
	}
	return s, func() {
		s.Close()
		os.RemoveAll(dir)
	}
}

func ExampleStore_Txn() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx := context.Background()

	put, err := s.Put(ctx, "leader", "a")
	if err != nil {
		log.Fatal(err)
	}
	// Compare-and-swap: set the key to value only if nobody changed it
	// since revision rev; otherwise read what it holds.
	cas := func(value string, rev int64) {
		resp, err := s.Txn(ctx).
			If(keel.Compare(keel.ModRevision("leader"), "=", rev)).
			Then(keel.OpPut("leader", value)).
			Else(keel.OpGet("leader")).
			Commit()
		if err != nil {
			log.Fatal(err)
		}
		if resp.Succeeded {
			fmt.Printf("set leader=%s\n", value)
			return
		}
		kv := resp.Responses[0].Get().Kvs[0]
		fmt.Printf("not set: leader=%s since revision %d\n", kv.Value, kv.ModRevision)
	}
	cas("b", put.Header.Revision)
	cas("c", put.Header.Revision) // stale: the first swap changed the key
	// Output:
	// set leader=b
	// not set: leader=b since revision 3
}

func ExampleStore_Get_history() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx := context.Background()

	first, _ := s.Put(ctx, "k", "v1")
	_, _ = s.Put(ctx, "k", "v2")
	_, _ = s.Delete(ctx, "k")

	now, _ := s.Get(ctx, "k")
	then, _ := s.Get(ctx, "k", keel.WithRev(first.Header.Revision))
	fmt.Println(len(now.Kvs), string(then.Kvs[0].Value))
	// Output:
	// 0 v1
}

func ExampleStore_Watch() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the watch

	// From the next revision on, every change to a key under "config/".
	wch := s.Watch(ctx, "config/", keel.WithPrefix())
	if _, err := s.Put(ctx, "config/mode", "active"); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Put(ctx, "jobs/1", "queued"); err != nil { // not watched
		log.Fatal(err)
	}
	if _, err := s.Delete(ctx, "config/mode"); err != nil {
		log.Fatal(err)
	}
	// The events come in revision order, in one response or several.
	seen := 0
	for wr := range wch {
		for _, ev := range wr.Events {
			fmt.Printf("%s %s at revision %d\n", ev.Type, ev.Kv.Key, ev.Kv.ModRevision)
			seen++
		}
		if seen == 2 {
			break
		}
	}
	// Output:
	// PUT config/mode at revision 2
	// DELETE config/mode at revision 4
}

func ExampleStore_Grant() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx := context.Background()

	// A key that lives as long as its lease: a worker's registration, say.
	lease, err := s.Grant(ctx, 60)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Put(ctx, "workers/w1", "10.0.0.7:8080", keel.WithLease(lease.ID)); err != nil {
		log.Fatal(err)
	}
	// The holder renews it before it expires; KeepAlive does so in the
	// background until its ctx ends.
	ka, err := s.KeepAliveOnce(ctx, lease.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("renewed to %ds\n", ka.TTL)
	ttl, err := s.TimeToLive(ctx, lease.ID, keel.WithAttachedKeys())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("granted %ds, keys %q\n", ttl.GrantedTTL, ttl.Keys)

	// Revoking it (or letting it expire) deletes its keys.
	if _, err := s.Revoke(ctx, lease.ID); err != nil {
		log.Fatal(err)
	}
	gr, err := s.Get(ctx, "workers/", keel.WithPrefix(), keel.WithCountOnly())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("workers after revoke:", gr.Count)
	// Output:
	// renewed to 60s
	// granted 60s, keys ["workers/w1"]
	// workers after revoke: 0
}

func ExampleStore_Compact() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx := context.Background()

	var revs []int64
	for _, v := range []string{"v1", "v2", "v3"} {
		put, err := s.Put(ctx, "k", v)
		if err != nil {
			log.Fatal(err)
		}
		revs = append(revs, put.Header.Revision)
	}
	// Discard the history before the last revision.
	if _, err := s.Compact(ctx, revs[2]); err != nil {
		log.Fatal(err)
	}
	_, err := s.Get(ctx, "k", keel.WithRev(revs[0]))
	fmt.Printf("read at revision %d: compacted=%v\n", revs[0], errors.Is(err, keel.ErrCompacted))
	gr, err := s.Get(ctx, "k")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("current: k=%s at revision %d\n", gr.Kvs[0].Value, gr.Kvs[0].ModRevision)
	// Output:
	// read at revision 2: compacted=true
	// current: k=v3 at revision 4
}

// A single-member store grows into a cluster: a second process joins it
// through its address, presenting the cluster's token, and later leaves.
func ExampleConfig_join() {
	base, err := os.MkdirTemp("", "keel-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(base)
	ctx := context.Background()

	first, err := keel.Open(keel.Config{ID: "a", Dir: filepath.Join(base, "a"), ClusterToken: "s3cret"})
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Put(ctx, "greeting", "hello"); err != nil {
		log.Fatal(err)
	}

	// Open returns once the new member serves; it joins as a learner and
	// the leader promotes it once it has caught up.
	second, err := keel.Open(keel.Config{
		ID: "b", Dir: filepath.Join(base, "b"), Join: []string{first.Addr()}, ClusterToken: "s3cret",
	})
	if err != nil {
		log.Fatal(err)
	}
	gr, err := second.Get(ctx, "greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("b reads %s\n", gr.Kvs[0].Value)
	for promoted := false; !promoted; time.Sleep(50 * time.Millisecond) {
		ml, err := first.MemberList(ctx)
		if err != nil {
			log.Fatal(err)
		}
		promoted = len(ml.Members) == 2 && !ml.Members[0].IsLearner && !ml.Members[1].IsLearner
	}
	fmt.Println("b is a voter")

	if err := second.Leave(ctx); err != nil {
		log.Fatal(err)
	}
	ml, err := first.MemberList(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("members after b left:", len(ml.Members), ml.Members[0].Name)
	// Output:
	// b reads hello
	// b is a voter
	// members after b left: 1 a
}

// WithRequireLeader makes a call fail at once with ErrNoLeader on a member
// that knows no leader, instead of waiting for one; with a leader it
// changes nothing. A watch made with it is also ended if its member later
// loses the leader, so it cannot wait forever on a member cut off from the
// cluster.
func ExampleWithRequireLeader() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx := keel.WithRequireLeader(context.Background())

	if _, err := s.Put(ctx, "k", "v"); errors.Is(err, keel.ErrNoLeader) {
		fmt.Println("no leader: try another member")
		return
	} else if err != nil {
		log.Fatal(err)
	}
	resp, err := s.Get(ctx, "k")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", resp.Kvs[0].Value)
	// Output:
	// v
}

// A Watcher handle's Close ends the watches made through it, as clientv3's
// does, without closing the Store.
func ExampleNewWatcher() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx := context.Background()

	w := keel.NewWatcher(s)
	wch := w.Watch(ctx, "jobs/", keel.WithPrefix())
	if _, err := s.Put(ctx, "jobs/1", "queued"); err != nil {
		log.Fatal(err)
	}
	wr := <-wch
	fmt.Printf("%s %s\n", wr.Events[0].Kv.Key, wr.Events[0].Kv.Value)

	w.Close()
	_, open := <-wch
	fmt.Println("open after Close:", open)
	_, err := s.Get(ctx, "jobs/1")
	fmt.Println("store still serves:", err == nil)
	// Output:
	// jobs/1 queued
	// open after Close: false
	// store still serves: true
}
