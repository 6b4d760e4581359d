package mvcc_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/keeldb/keel/mvcc"
)

func ExampleStore_Write() {
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

	// One write txn per raft log entry: here entry 7 puts two keys.
	tx := s.Write(7)
	tx.Put([]byte("config/a"), []byte("1"), 0)
	tx.Put([]byte("config/b"), []byte("2"), 0)
	events := tx.End()

	// Entry 8 overwrites one key and deletes the other.
	tx = s.Write(8)
	tx.Put([]byte("config/a"), []byte("3"), 0)
	deleted := tx.DeleteRange([]byte("config/b"), nil)
	events = append(events, tx.End()...)

	for _, ev := range events {
		prev := "none"
		if ev.PrevKv != nil {
			prev = string(ev.PrevKv.Value)
		}
		fmt.Printf("%s %s rev=%d prev=%s\n", ev.Type, ev.Kv.Key, ev.Kv.ModRevision, prev)
	}
	fmt.Println("deleted:", deleted, "rev:", s.Rev(), "consistent index:", s.ConsistentIndex())
	// Output:
	// PUT config/a rev=2 prev=none
	// PUT config/b rev=2 prev=none
	// PUT config/a rev=3 prev=1
	// DELETE config/b rev=3 prev=2
	// deleted: 1 rev: 3 consistent index: 8
}

func ExampleStore_Range() {
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

	for i, kv := range [][2]string{{"svc/b", "10.0.0.2"}, {"svc/a", "10.0.0.1"}, {"svc/c", "10.0.0.3"}, {"svc/a", "10.0.0.9"}} {
		tx := s.Write(uint64(i + 1))
		tx.Put([]byte(kv[0]), []byte(kv[1]), 0)
		tx.End()
	}

	// Prefix "svc/" is the range [svc/, svc0), newest first, at most 2.
	res, err := s.Range([]byte("svc/"), []byte("svc0"), mvcc.RangeOptions{
		SortTarget: mvcc.SortByModRevision, SortOrder: mvcc.SortDescend, Limit: 2,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, kv := range res.KVs {
		fmt.Printf("%s=%s mod=%d version=%d\n", kv.Key, kv.Value, kv.ModRevision, kv.Version)
	}
	fmt.Println("count:", res.Count, "more:", res.More, "rev:", res.Rev)

	// The same key as of revision 3, before its second put.
	old, err := s.Range([]byte("svc/a"), nil, mvcc.RangeOptions{Rev: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("at rev 3: %s=%s\n", old.KVs[0].Key, old.KVs[0].Value)

	_, err = s.Range([]byte("svc/a"), nil, mvcc.RangeOptions{Rev: 99})
	fmt.Println(err)
	// Output:
	// svc/a=10.0.0.9 mod=5 version=2
	// svc/c=10.0.0.3 mod=4 version=1
	// count: 3 more: true rev: 5
	// at rev 3: svc/a=10.0.0.1
	// mvcc: required revision is a future revision
}

// chanSink is a WatchSink over a buffered channel, as Keel's root package
// uses: Send never blocks, and a full channel makes the store catch the
// watcher up from history later.
type chanSink chan mvcc.WatchResponse

func (c chanSink) Send(r mvcc.WatchResponse) bool {
	select {
	case c <- r:
		return true
	default:
		return false
	}
}

func (c chanSink) Close() { close(c) }

func ExampleStore_Watch() {
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

	tx := s.Write(1)
	tx.Put([]byte("config/a"), []byte("1"), 0) // revision 2
	tx.End()

	// Watch the prefix "config/" from revision 2: history first, then live.
	ch := make(chanSink, 16)
	w, err := s.Watch([]byte("config/"), []byte("config0"), mvcc.WatchOptions{StartRev: 2}, ch)
	if err != nil {
		log.Fatal(err)
	}
	tx = s.Write(2)
	tx.Put([]byte("config/a"), []byte("2"), 0) // revision 3
	tx.DeleteRange([]byte("other"), nil)
	tx.End()

	for seen := 0; seen < 2; {
		r := <-ch
		for _, ev := range r.Events {
			fmt.Printf("%s %s=%s rev %d create=%v\n", ev.Type, ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision, ev.IsCreate())
			seen++
		}
	}
	w.Cancel()
	_, open := <-ch
	fmt.Println("channel open after Cancel:", open)
	// Output:
	// PUT config/a=1 rev 2 create=true
	// PUT config/a=2 rev 3 create=false
	// channel open after Cancel: false
}
