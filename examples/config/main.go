// Command config shows shared configuration: three replicas, each on its
// own Keel member (3 members on loopback), read the configuration once
// and then follow it through a watch. One writer changes it; every replica
// sees every change, in order.
//
//	go run ./examples/config
package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/keeldb/keel"
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
	if _, err := members[0].Put(ctx, "config/mode", "normal"); err != nil {
		return err
	}

	var wg sync.WaitGroup
	for i, m := range members {
		// Read the current config, then watch from the next revision:
		// no change can fall between the two.
		resp, err := m.Get(ctx, "config/", keel.WithPrefix())
		if err != nil {
			return err
		}
		name := fmt.Sprintf("replica-%d", i+1)
		for _, kv := range resp.Kvs {
			fmt.Printf("%s starts with %s=%s\n", name, kv.Key, kv.Value)
		}
		wch := m.Watch(ctx, "config/", keel.WithPrefix(), keel.WithRev(resp.Header.Revision+1))
		wg.Go(func() {
			for wr := range wch {
				for _, ev := range wr.Events {
					fmt.Printf("%s sees %s %s=%s (revision %d)\n", name, ev.Type, ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
					if string(ev.Kv.Key) == "config/done" {
						return
					}
				}
			}
		})
	}

	// One writer, on any member.
	writer := members[1]
	for _, kv := range [][2]string{{"config/mode", "maintenance"}, {"config/max-conns", "500"}, {"config/mode", "normal"}} {
		if _, err := writer.Put(ctx, kv[0], kv[1]); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond) // keep the output readable
	}
	if _, err := writer.Put(ctx, "config/done", "yes"); err != nil {
		return err
	}
	wg.Wait()
	fmt.Println("every replica saw every change")
	return nil
}
