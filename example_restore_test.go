package keel_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/keeldb/keel"
)

// A backup taken with Snapshot starts a new cluster: RestoreMember
// prepares each member's empty Dir, and Open starts it with the backup's
// keys, revisions and leases under a new cluster ID.
func ExampleRestoreMember() {
	ctx := context.Background()
	src, closeSrc := openTemp()
	if _, err := src.Put(ctx, "config/mode", "active"); err != nil {
		log.Fatal(err)
	}
	put, err := src.Put(ctx, "config/mode", "draining")
	if err != nil {
		log.Fatal(err)
	}
	rc, err := src.Snapshot(ctx) // the caller closes the reader
	if err != nil {
		log.Fatal(err)
	}
	var backup bytes.Buffer
	_, err = backup.ReadFrom(rc)
	rc.Close()
	if err != nil {
		log.Fatal(err)
	}
	srcCluster := put.Header.ClusterId
	closeSrc()

	info, err := keel.VerifyBackup(bytes.NewReader(backup.Bytes()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("backup at revision", info.Revision)

	// One member here; for several, give each the same Peers (and
	// ClusterToken) and run RestoreMember on each before opening it.
	parent, err := os.MkdirTemp("", "keel-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(parent)
	cfg := keel.Config{Dir: filepath.Join(parent, "restored")}
	if err := keel.RestoreMember(bytes.NewReader(backup.Bytes()), cfg); err != nil {
		log.Fatal(err)
	}
	s, err := keel.Open(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	resp, err := s.Get(ctx, "config/mode")
	if err != nil {
		log.Fatal(err)
	}
	kv := resp.Kvs[0]
	fmt.Printf("%s=%s version=%d at revision %d\n", kv.Key, kv.Value, kv.Version, resp.Header.Revision)
	old, err := s.Get(ctx, "config/mode", keel.WithRev(kv.ModRevision-1))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("before: %s\n", old.Kvs[0].Value)
	fmt.Println("new cluster ID:", resp.Header.ClusterId != srcCluster)
	// Output:
	// backup at revision 3
	// config/mode=draining version=2 at revision 3
	// before: active
	// new cluster ID: true
}
