// Command discovery shows service discovery on a 3-member Keel cluster on
// loopback: two API instances register (each through its own member), a
// client on the third member watches the service. One instance shuts down
// cleanly (gone at once); the other's process dies (its member stops) and
// it disappears when its lease expires.
//
//	go run ./examples/discovery
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/keeldb/keel/discovery"
	"github.com/keeldb/keel/examples/internal/localcluster"
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
	client := discovery.New(members[0], discovery.Config{})
	updates := client.Watch(ctx, "api")
	show := func() {
		u, ok := <-updates
		if !ok {
			return
		}
		for _, c := range u.Changes {
			fmt.Printf("  watch: %s %s (%s)\n", c.Type, c.Instance.ID, c.Instance.Addr)
		}
		fmt.Printf("  watch: %d instance(s) at revision %d, full=%v\n", len(u.Instances), u.Revision, u.Full)
	}
	show()

	a, err := discovery.New(members[1], discovery.Config{TTL: 1}).Register(ctx,
		discovery.Instance{Service: "api", ID: "api-a", Addr: "10.0.0.1:8080", Metadata: map[string]string{"zone": "east"}})
	if err != nil {
		return err
	}
	defer a.Close()
	show()
	b, err := discovery.New(members[2], discovery.Config{TTL: 1}).Register(ctx,
		discovery.Instance{Service: "api", ID: "api-b", Addr: "10.0.0.2:8080"})
	if err != nil {
		return err
	}
	show()
	list, err := client.Lookup(ctx, "api")
	if err != nil {
		return err
	}
	fmt.Printf("lookup: %d instances\n", len(list))

	fmt.Println("api-a shuts down cleanly")
	if err := a.Close(); err != nil {
		return err
	}
	show()

	fmt.Println("api-b's process dies (its member stops; nobody renews its lease)")
	start := time.Now()
	if err := c.Stop(2); err != nil {
		return err
	}
	<-b.Done()
	show()
	fmt.Printf("api-b gone after %v (lease TTL %ds)\n", time.Since(start).Round(100*time.Millisecond), members[0].MinLeaseTTL())
	return nil
}
