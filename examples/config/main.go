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
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keeldb/keel"
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
