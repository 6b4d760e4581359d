package main

import (
	"fmt"
	"strings"
)

// loadKey returns the i-th loaded key, "key/%07d".
func loadKey(i int) string { return fmt.Sprintf("key/%07d", i) }

// lagKey returns the i-th key written while a follower is down.
func lagKey(i int) string { return fmt.Sprintf("lag/%07d", i) }

// valueFor returns the size-byte value stored under key: the key and a
// slash, then filler derived from the key, cut to size. Every key's value
// is distinct as long as size exceeds len(key), so a read can be checked
// against the value its key must hold.
func valueFor(key string, size int) string {
	var b strings.Builder
	b.Grow(size + len(key) + 1)
	b.WriteString(key)
	b.WriteByte('/')
	fill := byte('a' + len(key)%26)
	if n := len(key); n > 0 {
		fill = 'a' + key[n-1]%26
	}
	for b.Len() < size {
		b.WriteByte(fill)
	}
	return b.String()[:size]
}

// kv is one key and its value.
type kv struct{ key, value string }

// numBatches is the number of batches of at most size that cover n keys.
func numBatches(n, size int) int { return (n + size - 1) / size }

// batchAt returns batch b of the keys [0, n) cut into batches of at most
// size: keys named by name, values from valueFor. Batches are built when
// written, so the load does not hold every value in the heap it measures.
func batchAt(b, size, n, valueBytes int, name func(int) string) []kv {
	lo := b * size
	hi := min(lo+size, n)
	if lo >= hi {
		return nil
	}
	out := make([]kv, 0, hi-lo)
	for i := lo; i < hi; i++ {
		k := name(i)
		out = append(out, kv{key: k, value: valueFor(k, valueBytes)})
	}
	return out
}
