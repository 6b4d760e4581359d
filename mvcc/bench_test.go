package mvcc

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPut measures one-put write txns: overwrites of 1,024 keys, and
// creates of new keys.
func BenchmarkPut(b *testing.B) {
	val := make([]byte, 256)
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%08d", i))
	}
	b.Run("overwrite", func(b *testing.B) {
		s, _ := openStore(b, Config{})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tx := s.Write(uint64(i + 1))
			tx.Put(keys[i%len(keys)], val, 0)
			tx.End()
		}
	})
	b.Run("create", func(b *testing.B) {
		s, _ := openStore(b, Config{})
		key := make([]byte, 0, 16)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			key = fmt.Appendf(key[:0], "key-%012d", i)
			tx := s.Write(uint64(i + 1))
			tx.Put(key, val, 0)
			tx.End()
		}
	})
}

// BenchmarkRange reads from 1,000 keys of 256 bytes, either still in the
// pending overlay (never committed) or committed to bbolt.
func BenchmarkRange(b *testing.B) {
	fill := func(b *testing.B, cfg Config, commit bool) *Store {
		b.Helper()
		s, _ := openStore(b, cfg)
		val := make([]byte, 256)
		tx := s.Write(1)
		for i := range 1000 {
			tx.Put([]byte(fmt.Sprintf("pfx/%02d/%04d", i/100, i)), val, 0)
		}
		tx.End()
		if commit {
			if err := s.ForceCommit(); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}
	overlay := Config{CommitInterval: time.Hour, CommitLimit: 1 << 20}
	for _, bc := range []struct {
		name     string
		cfg      Config
		commit   bool
		key, end []byte
		want     int
	}{
		{"single key/overlay", overlay, false, []byte("pfx/03/0345"), nil, 1},
		{"single key/bbolt", Config{}, true, []byte("pfx/03/0345"), nil, 1},
		{"prefix 100 keys/overlay", overlay, false, []byte("pfx/05/"), []byte("pfx/050"), 100},
		{"prefix 100 keys/bbolt", Config{}, true, []byte("pfx/05/"), []byte("pfx/050"), 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := fill(b, bc.cfg, bc.commit)
			b.ReportAllocs()
			for b.Loop() {
				res, err := s.Range(bc.key, bc.end, RangeOptions{})
				if err != nil || len(res.KVs) != bc.want {
					b.Fatalf("got %v, %v", res, err)
				}
			}
		})
	}
}

// BenchmarkTxn is a compare-like read followed by a put, as a Txn with a
// guard does.
func BenchmarkTxn(b *testing.B) {
	s, _ := openStore(b, Config{})
	key, val := []byte("counter"), make([]byte, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tx := s.Write(uint64(i + 1))
		res, err := tx.Range(key, nil, RangeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.KVs) == 0 || res.KVs[0].ModRevision == res.Rev {
			tx.Put(key, val, 0)
		}
		tx.End()
	}
}

// BenchmarkOpen measures opening a store of 200,000 keys (64-byte values,
// one revision each): the bbolt scan that rebuilds the index, which is
// also what a snapshot restore does.
func BenchmarkOpen(b *testing.B) {
	s, path := openStore(b, Config{noSync: true})
	val := make([]byte, 64)
	const keys, perTxn = 200_000, 10_000
	for t := range keys / perTxn {
		tx := s.Write(uint64(t + 1))
		for i := range perTxn {
			tx.Put(fmt.Appendf(nil, "key-%010d", t*perTxn+i), val, 0)
		}
		tx.End()
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(path, Config{noSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRangeDuringCommit reads one committed key while another
// goroutine writes batches of 2,000 new keys and commits each as the
// background committer does (paced), back to back: the reads overlap
// commits most of the time.
func BenchmarkRangeDuringCommit(b *testing.B) {
	s, _ := openStore(b, Config{CommitInterval: time.Hour, CommitLimit: 1 << 20})
	val := make([]byte, 256)
	tx := s.Write(1)
	tx.Put([]byte("read/me"), val, 0)
	tx.End()
	if err := s.ForceCommit(); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		index := uint64(1)
		for n := 0; ; n++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			for i := range 2000 {
				index++
				tx := s.Write(index)
				tx.Put(fmt.Appendf(nil, "w/%06d/%04d", n, i), val, 0)
				tx.End()
			}
			if err := s.commitPaced(true); err != nil {
				done <- err
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Range([]byte("read/me"), nil, RangeOptions{})
		if err != nil || len(res.KVs) != 1 {
			b.Fatalf("got %v, %v", res, err)
		}
	}
	b.StopTimer()
	close(stop)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
