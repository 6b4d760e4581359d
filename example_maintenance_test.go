package keel_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"

	"github.com/keeldb/keel"
)

// Status, HashKV and Defragment take the member to ask where clientv3's
// take an etcd endpoint: "" is this member; another member, named by its
// Name, ID or address, is asked over the member port and answers for
// itself.
func ExampleStore_Status() {
	base, err := os.MkdirTemp("", "keel-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(base)
	ctx := context.Background()
	a, err := keel.Open(keel.Config{ID: "a", Dir: filepath.Join(base, "a"), ClusterToken: "s3cret"})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := keel.Open(keel.Config{ID: "b", Dir: filepath.Join(base, "b"), Join: []string{a.Addr()}, ClusterToken: "s3cret"})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	put, err := a.Put(ctx, "k", "v")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := b.Get(ctx, "k"); err != nil { // b has applied the put
		log.Fatal(err)
	}
	for _, endpoint := range []string{"", "b", strconv.FormatUint(b.MemberID(), 16), b.Addr()} {
		st, err := a.Status(ctx, endpoint)
		if err != nil {
			log.Fatal(err)
		}
		answered := map[uint64]string{a.MemberID(): "a", b.MemberID(): "b"}[st.Header.MemberId]
		fmt.Printf("%s answers, leader %s\n", answered, st.LeaderName)
	}
	ha, err := a.HashKV(ctx, "a", put.Header.Revision)
	if err != nil {
		log.Fatal(err)
	}
	hb, err := a.HashKV(ctx, "b", put.Header.Revision)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same history:", ha.Hash == hb.Hash)
	// Output:
	// a answers, leader a
	// b answers, leader a
	// b answers, leader a
	// b answers, leader a
	// same history: true
}
