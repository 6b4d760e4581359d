package wal_test

import (
	"fmt"
	"os"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// Open a WAL, append a batch with one fsync, read it back, compact the
// head after a snapshot, and use the stable store.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "wal-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	w, err := wal.Open(dir, wal.Config{})
	if err != nil {
		panic(err)
	}
	defer w.Close()

	err = w.StoreLogs([]*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("put a=1")},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("put b=2")},
		{Index: 3, Term: 1, Type: raft.LogCommand, Data: []byte("put c=3")},
	})
	if err != nil {
		panic(err)
	}
	var l raft.Log
	if err := w.GetLog(2, &l); err != nil {
		panic(err)
	}
	fmt.Printf("index %d term %d: %s\n", l.Index, l.Term, l.Data)

	// After a snapshot at index 2, raft compacts the head.
	if err := w.DeleteRange(1, 2); err != nil {
		panic(err)
	}
	first, _ := w.FirstIndex()
	last, _ := w.LastIndex()
	fmt.Println("first", first, "last", last)
	fmt.Println("GetLog(1) not found:", w.GetLog(1, &l) == raft.ErrLogNotFound)

	if err := w.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		panic(err)
	}
	term, _ := w.GetUint64([]byte("CurrentTerm"))
	vote, err := w.Get([]byte("LastVoteCand")) // missing: (nil, nil)
	fmt.Println("term", term, "vote", vote == nil, err)
	// Output:
	// index 2 term 1: put b=2
	// first 3 last 3
	// GetLog(1) not found: true
	// term 1 vote true <nil>
}

// A power loss discards a batch whose Sync failed; every acknowledged
// batch survives.
func ExampleOpen_crashRecovery() {
	fsys := faultfs.New()
	cfg := wal.Config{FS: fsys, SegmentSize: 4096}
	w, err := wal.Open("/data/wal", cfg)
	if err != nil {
		panic(err)
	}
	if err := w.StoreLog(&raft.Log{Index: 1, Term: 1, Data: []byte("acked")}); err != nil {
		panic(err)
	}
	fsys.Inject(faultfs.Fault{Op: faultfs.OpSync, Pattern: "*.seg", Err: os.ErrDeadlineExceeded})
	err = w.StoreLog(&raft.Log{Index: 2, Term: 1, Data: []byte("lost")})
	fmt.Println("fail-stop:", err != nil)
	w.Close()

	fsys.Crash() // power loss
	fsys.ClearFaults()
	w, err = wal.Open("/data/wal", cfg)
	if err != nil {
		panic(err)
	}
	defer w.Close()
	last, _ := w.LastIndex()
	fmt.Println("last index after recovery:", last)
	// Output:
	// fail-stop: true
	// last index after recovery: 1
}
