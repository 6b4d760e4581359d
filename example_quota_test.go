package keel_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/keeldb/keel"
)

// A member whose database reaches its quota refuses writes that add data;
// compaction frees the space, and writes resume by themselves: no alarm to
// disarm.
func ExampleConfig_quotaBytes() {
	dir, err := os.MkdirTemp("", "keel-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := keel.Open(keel.Config{Dir: dir, QuotaBytes: 512 << 10})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// Overwrite one key until the history fills the quota.
	value := strings.Repeat("x", 16<<10)
	for {
		_, err := s.Put(ctx, "blob", value)
		if errors.Is(err, keel.ErrNoSpace) {
			fmt.Println("put refused: no space")
			break
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	if _, err := s.Get(ctx, "blob"); err == nil {
		fmt.Println("reads still work")
	}

	// Compacting the history frees its pages.
	st, err := s.Status(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Compact(ctx, st.Header.Revision, keel.WithCompactPhysical()); err != nil {
		log.Fatal(err)
	}
	for {
		_, err := s.Put(ctx, "blob", "small")
		if err == nil {
			break
		}
		if !errors.Is(err, keel.ErrNoSpace) {
			log.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the member clears its alarm at its next check
	}
	fmt.Println("writes accepted again")
	// Output:
	// put refused: no space
	// reads still work
	// writes accepted again
}

func ExampleStore_Health() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	resp, err := s.Health(ctx)
	if err != nil {
		fmt.Println("unhealthy:", resp.Reason)
		return
	}
	fmt.Println("healthy:", resp.Health)
	// Output:
	// healthy: true
}
