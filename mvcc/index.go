package mvcc

import (
	"bytes"
	"unsafe"

	"github.com/tidwall/btree"
)

// treeIndex maps keys to their keyIndex in a B-tree ordered by key bytes,
// for ranges, and in a hash map, for single-key lookups (Get, Put, Delete
// of one key, txn compares), which are O(1) instead of O(log n) byte
// comparisons. The map's string keys share the keyIndex's key bytes, which
// never change. It is not safe for concurrent use: the Store guards it with
// its mu (the tree is created with NoLocks).
type treeIndex struct {
	tree  *btree.BTreeG[*keyIndex]
	byKey map[string]*keyIndex
}

func lessKeyIndex(a, b *keyIndex) bool { return bytes.Compare(a.key, b.key) < 0 }

func newTreeIndex() *treeIndex { return newTreeIndexSized(0) }

// newTreeIndexSized returns an empty index whose key map has room for hint
// keys.
func newTreeIndexSized(hint int) *treeIndex {
	return &treeIndex{
		tree:  btree.NewBTreeGOptions(lessKeyIndex, btree.Options{NoLocks: true}),
		byKey: make(map[string]*keyIndex, hint),
	}
}

// trimMap rebuilds the key map when it was sized for hint keys and holds
// far fewer (a history of many revisions per key): a Go map never shrinks.
func (ti *treeIndex) trimMap(hint int) {
	if len(ti.byKey) >= hint/4 {
		return
	}
	m := make(map[string]*keyIndex, len(ti.byKey))
	for k, ki := range ti.byKey {
		m[k] = ki
	}
	ti.byKey = m
}

// mapKey is ki's key as a string sharing its bytes (no copy): ki.key is
// owned by the index and never modified.
func mapKey(ki *keyIndex) string { return unsafe.String(unsafe.SliceData(ki.key), len(ki.key)) }

// keyIndex returns the index of key, or nil.
func (ti *treeIndex) keyIndex(key []byte) *keyIndex {
	return ti.byKey[string(key)] // the conversion does not allocate
}

// getOrCreate returns the index of key, creating an empty one (owning a copy
// of key) if missing.
func (ti *treeIndex) getOrCreate(key []byte) *keyIndex {
	if ki := ti.keyIndex(key); ki != nil {
		return ki
	}
	return ti.create(key)
}

// create adds an empty keyIndex for key, which the index must not hold.
func (ti *treeIndex) create(key []byte) *keyIndex {
	ki := newKeyIndex(key)
	ti.tree.Set(ki)
	ti.byKey[mapKey(ki)] = ki
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
		if hi != nil && bytes.Compare(ki.key, hi) >= 0 {
			return false
		}
		return fn(ki)
	}
	if lo == nil {
		ti.tree.Scan(iter)
		return
	}
	ti.tree.Ascend(&keyIndex{key: lo}, iter)
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
		delete(ti.byKey, mapKey(ki))
	}
}
