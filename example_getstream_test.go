package keel_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keeldb/keel"
)

// A range too large to hold in memory at once is read in chunks, all at
// the revision the stream started at. Header, More and Count come with
// the final chunk. Cancelling the context abandons the stream.
func ExampleStore_GetStream() {
	s, closeStore := openTemp()
	defer closeStore()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	for i := range 3 {
		if _, err := s.Put(ctx, fmt.Sprintf("job/%d", i), "queued"); err != nil {
			log.Fatal(err)
		}
	}
	stream, err := s.GetStream(ctx, "job/", keel.WithPrefix())
	if err != nil {
		log.Fatal(err)
	}
	var last keel.RangeStreamResponse
	for chunk := range stream {
		if err := chunk.Err(); err != nil {
			log.Fatal(err) // the stream failed; it is the last value
		}
		for _, kv := range chunk.Kvs {
			fmt.Printf("%s : %s\n", kv.Key, kv.Value)
		}
		last = chunk
	}
	fmt.Printf("count: %d, more: %v, revision: %d\n", last.Count, last.More, last.Header.Revision)

	// GetStreamToGetResponse merges a stream into what Get returns.
	stream, err = s.GetStream(ctx, "job/", keel.WithPrefix(), keel.WithLimit(2))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := keel.GetStreamToGetResponse(stream)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d of %d keys, more: %v\n", len(resp.Kvs), resp.Count, resp.More)
	// Output:
	// job/0 : queued
	// job/1 : queued
	// job/2 : queued
	// count: 3, more: false, revision: 4
	// 2 of 3 keys, more: true
}
