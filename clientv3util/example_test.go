package clientv3util_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/clientv3util"
)

// The ported form of etcd's clientv3util examples: a put only if the key
// is missing, and a delete only if it exists.
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
	kvc := keel.NewKV(s)
	ctx := context.Background()

	for _, v := range []string{"hello world", "goodbye"} {
		resp, err := kvc.Txn(ctx).
			If(clientv3util.KeyMissing("purpleidea")).
			Then(keel.OpPut("purpleidea", v)).
			Commit()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("put %q: %v\n", v, resp.Succeeded)
	}
	resp, err := kvc.Txn(ctx).
		If(clientv3util.KeyExists("purpleidea")).
		Then(keel.OpDelete("purpleidea")).
		Commit()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deleted:", resp.Responses[0].GetResponseDeleteRange().Deleted)
	// Output:
	// put "hello world": true
	// put "goodbye": false
	// deleted: 1
}
