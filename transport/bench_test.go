package transport

import (
	"context"
	"testing"
)

// BenchmarkCall measures round trips over loopback, one caller at a time
// and with b.RunParallel callers sharing the pipelined connections.
func BenchmarkCall(b *testing.B) {
	srv := newTransport(b, Config{Handler: echo})
	cli := newTransport(b, Config{})
	ctx := context.Background()
	for _, size := range []struct {
		name string
		n    int
	}{{"128B", 128}, {"16KiB", 16 << 10}} {
		req := make([]byte, size.n)
		b.Run("sequential/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if _, err := cli.Call(ctx, srv.Addr(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cli.Call(ctx, srv.Addr(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
