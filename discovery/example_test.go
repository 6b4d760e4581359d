package discovery_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/discovery"
)

func Example() {
	dir, err := os.MkdirTemp("", "keel-discovery-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := keel.Open(keel.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	reg := discovery.New(store, discovery.Config{TTL: 5})
	updates := reg.Watch(ctx, "api")
	fmt.Println("initial:", len((<-updates).Instances), "instances")

	a, err := reg.Register(ctx, discovery.Instance{Service: "api", ID: "api-1", Addr: "10.0.0.1:8080"})
	if err != nil {
		log.Fatal(err)
	}
	u := <-updates
	fmt.Println(u.Changes[0].Type, u.Changes[0].Instance.ID, u.Changes[0].Instance.Addr)

	list, err := reg.Lookup(ctx, "api")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("lookup:", len(list), "instance", list[0].ID)

	a.Close() // deregisters at once; a crashed process's lease would expire instead
	u = <-updates
	fmt.Println(u.Changes[0].Type, u.Changes[0].Instance.ID, "->", len(u.Instances), "left")
	// Output:
	// initial: 0 instances
	// added api-1 10.0.0.1:8080
	// lookup: 1 instance api-1
	// removed api-1 -> 0 left
}
