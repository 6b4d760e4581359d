package keel_test

import (
	"context"
	"fmt"
	"log"
	"os"

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

func ExampleStore_Txn() {
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

	put, err := s.Put(ctx, "leader", "a")
	if err != nil {
		log.Fatal(err)
	}
	// Compare-and-swap: succeeds only if nobody changed the key since.
	cas := func(from, to string, rev int64) bool {
		resp, err := s.Txn(ctx).
			If(keel.Compare(keel.ModRevision("leader"), "=", rev)).
			Then(keel.OpPut("leader", to)).
			Else(keel.OpGet("leader")).
			Commit()
		if err != nil {
			log.Fatal(err)
		}
		return resp.Succeeded
	}
	fmt.Println(cas("a", "b", put.Header.Revision))
	fmt.Println(cas("a", "c", put.Header.Revision)) // stale revision
	resp, err := s.Get(ctx, "leader")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(resp.Kvs[0].Value))
	// Output:
	// true
	// false
	// b
}

func ExampleStore_Get_history() {
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

	first, _ := s.Put(ctx, "k", "v1")
	_, _ = s.Put(ctx, "k", "v2")
	_, _ = s.Delete(ctx, "k")

	now, _ := s.Get(ctx, "k")
	then, _ := s.Get(ctx, "k", keel.WithRev(first.Header.Revision))
	fmt.Println(len(now.Kvs), string(then.Kvs[0].Value))
	// Output:
	// 0 v1
}
