package keel_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/keeldb/keel"
)

// Compaction frees space inside the database file; Defragment gives it
// back to the file system while the member keeps serving.
func ExampleStore_Defragment() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx := context.Background()

	// 500 values of 16 KiB, deleted and compacted away.
	blob := strings.Repeat("x", 16<<10)
	for i := range 500 {
		if _, err := s.Put(ctx, fmt.Sprintf("blobs/%03d", i), blob); err != nil {
			log.Fatal(err)
		}
	}
	del, err := s.Delete(ctx, "blobs/", keel.WithPrefix())
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Compact(ctx, del.Header.Revision, keel.WithCompactPhysical()); err != nil {
		log.Fatal(err)
	}

	resp, err := s.Defragment(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("file shrank to under a tenth:", resp.SizeAfter < resp.SizeBefore/10)
	fmt.Println("revision unchanged:", resp.Header.Revision == del.Header.Revision)
	// Output:
	// file shrank to under a tenth: true
	// revision unchanged: true
}
