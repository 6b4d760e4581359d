package keel_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// BenchmarkPut measures replicated puts on a 3-member cluster on loopback,
// called on the leader: one writer (latency-bound) and 64 concurrent
// writers (throughput).
func BenchmarkPut(b *testing.B) {
	val := strings.Repeat("v", 256)
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("members=3/writers=%d", writers), func(b *testing.B) {
			l := keeltest.NewCluster(b, 3).Leader()
			ctx := b.Context()
			var n atomic.Int64
			b.SetParallelism(writers)
			b.ResetTimer()
			if writers == 1 {
				for i := 0; i < b.N; i++ {
					if _, err := l.Put(ctx, fmt.Sprintf("key-%010d", i%10000), val); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := l.Put(ctx, fmt.Sprintf("key-%010d", i%10000), val); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkGet measures linearizable and serializable gets on a 3-member
// cluster's leader with 64 concurrent readers.
func BenchmarkGet(b *testing.B) {
	for _, serializable := range []bool{false, true} {
		b.Run(fmt.Sprintf("serializable=%v", serializable), func(b *testing.B) {
			l := keeltest.NewCluster(b, 3).Leader()
			ctx := b.Context()
			for i := range 1000 {
				if _, err := l.Put(ctx, fmt.Sprintf("key-%04d", i), "value"); err != nil {
					b.Fatal(err)
				}
			}
			var opts []keel.OpOption
			if serializable {
				opts = append(opts, keel.WithSerializable())
			}
			var n atomic.Int64
			b.SetParallelism(32) // 64 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := l.Get(ctx, fmt.Sprintf("key-%04d", i%1000), opts...); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
