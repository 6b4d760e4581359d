package mvcc_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/keeldb/keel/mvcc"
)

func ExampleTxnWrite_RevokeLease() {
	dir, err := os.MkdirTemp("", "mvcc-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := mvcc.Open(filepath.Join(dir, "db"), mvcc.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// Entry 1 grants lease 42 (TTL 10 s): no key change, no new revision.
	tx := s.Write(1)
	if err := tx.GrantLease(42, 10); err != nil {
		log.Fatal(err)
	}
	tx.End()
	fmt.Println("rev after grant:", s.Rev())

	// Entry 2 registers two instances under the lease.
	tx = s.Write(2)
	tx.Put([]byte("svc/b"), []byte("10.0.0.2"), 42)
	tx.Put([]byte("svc/a"), []byte("10.0.0.1"), 42)
	tx.End()
	for _, k := range s.LeaseKeys(42) {
		fmt.Println("attached:", string(k))
	}

	// Entry 3 checkpoints the remaining TTL; entry 4 revokes the lease
	// (the owner proposes it when the lease expires).
	tx = s.Write(3)
	if err := tx.CheckpointLease(42, 7500); err != nil {
		log.Fatal(err)
	}
	tx.End()
	rec, _ := s.Lease(42)
	fmt.Printf("lease %d ttl=%ds remaining=%dms\n", rec.ID, rec.TTL, rec.RemainingTTL)

	tx = s.Write(4)
	n, err := tx.RevokeLease(42)
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range tx.End() {
		fmt.Println(ev.Type, string(ev.Kv.Key), "rev", ev.Kv.ModRevision)
	}
	_, ok := s.Lease(42)
	fmt.Println("deleted:", n, "lease exists:", ok, "rev:", s.Rev())
	// Output:
	// rev after grant: 1
	// attached: svc/a
	// attached: svc/b
	// lease 42 ttl=10s remaining=7500ms
	// DELETE svc/a rev 3
	// DELETE svc/b rev 3
	// deleted: 2 lease exists: false rev: 3
}
