package mvcc

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIndexLookup checks getOrCreate, keyIndex and visit against a sorted
// list of the keys inserted, in random order, so that the path hint of
// getOrCreate is exercised at every position of the tree.
func TestIndexLookup(t *testing.T) {
	seed := modelSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	ti := newTreeIndex()
	var want []string
	for range 3000 {
		k := fmt.Sprintf("k%05d", rng.IntN(5000))
		ki := ti.getOrCreate([]byte(k))
		require.Equal(t, k, string(ki.key()))
		require.Same(t, ki, ti.getOrCreate([]byte(k)), "a second getOrCreate must find the first")
		if i, found := slices.BinarySearch(want, k); !found {
			want = slices.Insert(want, i, k)
		}
	}
	require.Equal(t, len(want), ti.tree.Len())
	for _, tc := range []struct {
		name     string
		key, end string
		want     []string
	}{
		{name: "single present", key: want[7], want: want[7:8]},
		{name: "single missing", key: "k99999"},
		{name: "range", key: want[10], end: want[20], want: want[10:20]},
		{name: "from key", key: want[len(want)-5], end: "\x00", want: want[len(want)-5:]},
		{name: "all", key: "\x00", end: "\x00", want: want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			ti.visit([]byte(tc.key), []byte(tc.end), func(ki *keyIndex) bool {
				got = append(got, string(ki.key()))
				return true
			})
			require.Equal(t, tc.want, got)
		})
	}
	require.Nil(t, ti.keyIndex([]byte("k99999")))
}

// TestIndexLookupAllocs checks that looking keys up allocates nothing: the
// tree's search keys come from a pool (see treeIndex.probes).
func TestIndexLookupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	ti := newTreeIndex()
	for i := range 1000 {
		ti.create(fmt.Appendf(nil, "k%04d", i))
	}
	hit, miss, lo := []byte("k0500"), []byte("k0500x"), []byte("k0990")
	for _, tc := range []struct {
		name string
		fn   func()
	}{
		{name: "hit", fn: func() { _ = ti.keyIndex(hit) }},
		{name: "miss", fn: func() { _ = ti.keyIndex(miss) }},
		{name: "getOrCreate hit", fn: func() { _ = ti.getOrCreate(hit) }},
		{name: "visit range", fn: func() { ti.visit(lo, []byte{0}, func(*keyIndex) bool { return true }) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Zero(t, testing.AllocsPerRun(100, tc.fn))
		})
	}
}
