package mvcc_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/keeldb/keel/mvcc"
)

func ExampleStore_Defrag() {
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

	// Write 1,000 values of 4 KiB, delete them, and compact the history
	// away: the pages they took are free, but the file keeps its size.
	index := uint64(1)
	for i := range 1000 {
		tx := s.Write(index)
		tx.Put(fmt.Appendf(nil, "blob/%04d", i), bytes.Repeat([]byte{'x'}, 4096), 0)
		tx.End()
		index++
	}
	tx := s.Write(index)
	tx.DeleteRange([]byte("blob/"), []byte("blob0"))
	tx.End()
	index++
	tx = s.Write(index)
	done, err := tx.Compact(s.Rev())
	if err != nil {
		log.Fatal(err)
	}
	tx.End()
	<-done // the compacted records are deleted from the file

	// Defrag gives the free pages back to the file system while the store
	// keeps serving.
	st, err := s.Defrag(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("smaller:", st.SizeAfter < st.SizeBefore/4)
	fmt.Println("revision unchanged:", s.Rev() == 1002)
	// Output:
	// smaller: true
	// revision unchanged: true
}
