package mvcc

import (
	"fmt"
	"testing"
)

// BenchmarkLeasePut puts keys attached to one of 16 leases, moving each
// key to another lease on every put (detach + attach).
func BenchmarkLeasePut(b *testing.B) {
	s, _ := openStore(b, Config{})
	tx := s.Write(1)
	for id := int64(1); id <= 16; id++ {
		if err := tx.GrantLease(id, 60); err != nil {
			b.Fatal(err)
		}
	}
	tx.End()
	val := make([]byte, 256)
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%08d", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tx := s.Write(uint64(i + 2))
		tx.Put(keys[i%len(keys)], val, int64(i%16)+1)
		tx.End()
	}
}

// BenchmarkLeaseRevoke grants a lease, attaches 1,000 keys and revokes it
// (the revoke txn alone is timed).
func BenchmarkLeaseRevoke(b *testing.B) {
	s, _ := openStore(b, Config{})
	val := make([]byte, 64)
	idx := uint64(0)
	b.ReportAllocs()
	for i := int64(1); b.Loop(); i++ {
		b.StopTimer()
		idx++
		tx := s.Write(idx)
		if err := tx.GrantLease(i, 60); err != nil {
			b.Fatal(err)
		}
		for k := range 1000 {
			tx.Put(fmt.Appendf(nil, "svc/%06d", k), val, i)
		}
		tx.End()
		b.StartTimer()
		idx++
		tx = s.Write(idx)
		if n, err := tx.RevokeLease(i); err != nil || n != 1000 {
			b.Fatalf("revoke: %d, %v", n, err)
		}
		tx.End()
	}
}
