package mvcc

import (
	"bytes"
	"sync"

	"github.com/tidwall/btree"
)

// treeIndex maps keys to their keyIndex in a B-tree ordered by key bytes.
// It is not safe for concurrent use: the Store guards it with its mu (the
// tree is created with NoLocks; readers holding mu's read lock only use the
// tree's read-only methods).
//
// There is deliberately no hash map beside the tree for single-key lookups.
// One was kept until 2026-12 and made lookups O(1), but the garbage
// collector visits every entry of a map on every cycle in hash order, that
// is in random memory order: with ~130,000 keys it cost a cycle about as
// much as the index's own objects, and while a cycle marks, the write path
// runs on what is left of the CPU. Without it, W4's watch-lag p99 in
// keelbench fell by a third and W2 rose (see the commit that removed it).
type treeIndex struct {
	tree *btree.BTreeG[*keyIndex]
	// probes holds search keys for the tree. The tree compares through a
	// function value, so escape analysis assumes a key passed to Get or
	// Ascend escapes, and a fresh probe per lookup would be an allocation
	// per Get and Put. A pool serves concurrent readers (they hold only
	// the Store's read lock); TestIndexLookupAllocs guards the property.
	probes sync.Pool
}

func lessKeyIndex(a, b *keyIndex) bool { return bytes.Compare(a.key(), b.key()) < 0 }

func newTreeIndex() *treeIndex {
	ti := &treeIndex{tree: btree.NewBTreeGOptions(lessKeyIndex, btree.Options{NoLocks: true})}
	ti.probes.New = func() any { return new(keyIndex) }
	return ti
}

// probe returns a search key for key; release it with putProbe once the
// tree call returns (the tree keeps no reference to a search key).
func (ti *treeIndex) probe(key []byte) *keyIndex {
	p := ti.probes.Get().(*keyIndex)
	p.ext = key
	return p
}

func (ti *treeIndex) putProbe(p *keyIndex) {
	p.ext = nil // keep no caller's bytes alive
	ti.probes.Put(p)
}

// keyIndex returns the index of key, or nil.
func (ti *treeIndex) keyIndex(key []byte) *keyIndex {
	p := ti.probe(key)
	ki, _ := ti.tree.Get(p)
	ti.putProbe(p)
	return ki
}

// getOrCreate returns the index of key, creating an empty one (owning a copy
// of key) if missing. The search's path hint makes the insert that follows
// a miss start where the search ended instead of descending again.
func (ti *treeIndex) getOrCreate(key []byte) *keyIndex {
	var hint btree.PathHint
	p := ti.probe(key)
	ki, ok := ti.tree.GetHint(p, &hint)
	ti.putProbe(p)
	if ok {
		return ki
	}
	ki = newKeyIndex(key)
	ti.tree.SetHint(ki, &hint)
	return ki
}

// create adds an empty keyIndex for key, which the index must not hold.
func (ti *treeIndex) create(key []byte) *keyIndex {
	ki := newKeyIndex(key)
	ti.tree.Set(ki)
	return ki
}

// visit calls fn for every keyIndex in the range described by key and end
// (see rangeBounds), in key order, until fn returns false.
func (ti *treeIndex) visit(key, end []byte, fn func(ki *keyIndex) bool) {
	lo, hi, single, empty := rangeBounds(key, end)
	if empty {
		return
	}
	if single {
		if ki := ti.keyIndex(key); ki != nil {
			fn(ki)
		}
		return
	}
	iter := func(ki *keyIndex) bool {
		if hi != nil && bytes.Compare(ki.key(), hi) >= 0 {
			return false
		}
		return fn(ki)
	}
	if lo == nil {
		ti.tree.Scan(iter)
		return
	}
	p := ti.probe(lo)
	ti.tree.Ascend(p, iter)
	ti.putProbe(p)
}

// rangeBounds interprets etcd's range encoding:
//   - end empty: the single key `key` (an empty key then means no key);
//   - end == "\x00": every key >= key, and key == "\x00" too means all keys;
//   - otherwise [key, end), empty when end <= key.
//
// lo == nil means "from the first key"; hi == nil means "to the last key".
func rangeBounds(key, end []byte) (lo, hi []byte, single, empty bool) {
	switch {
	case len(end) == 0:
		return key, nil, true, len(key) == 0
	case len(end) == 1 && end[0] == 0:
		if len(key) == 1 && key[0] == 0 {
			return nil, nil, false, false
		}
		return key, nil, false, false
	default:
		if bytes.Compare(end, key) <= 0 {
			return nil, nil, false, true
		}
		return key, end, false, false
	}
}

// compact applies a compaction at atRev to every key (see keyIndex.compact)
// and removes the keys left with nothing. It is O(keys).
func (ti *treeIndex) compact(atRev int64) {
	var gone []*keyIndex
	ti.tree.Scan(func(ki *keyIndex) bool {
		if ki.compact(atRev) {
			gone = append(gone, ki)
		}
		return true
	})
	for _, ki := range gone {
		ti.tree.Delete(ki)
	}
}
