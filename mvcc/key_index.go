package mvcc

import (
	"fmt"
	"slices"
)

// keyIndex holds the revisions of one key, grouped into generations. It is
// etcd's keyIndex model (server/storage/mvcc/key_index.go).
//
// A generation is the life of the key from a creation to a deletion. Every
// put appends its revision to the current (last) generation; a delete
// appends its tombstone revision to the current generation and then starts
// a new, empty one. A key whose last generation is empty is currently
// deleted. Reading at revision r finds the generation whose first revision
// is <= r and whose tombstone (if any) is > r, and picks the largest
// revision <= r in it.
//
// Worked example: put(2.0); put(3.0); delete(4.0); put(5.0); put(5.1)
// (two puts in one transaction); delete(6.0) gives
//
//	generations:
//	  {empty}                          // current: key is deleted
//	  {created 5.0, ver 3, [5.0 5.1 6.0t]}
//	  {created 2.0, ver 3, [2.0 3.0 4.0t]}
//
//	get(1) -> not found (before creation)
//	get(3) -> 3.0, created 2.0, version 2
//	get(4) -> not found (deleted at 4)
//	get(5) -> 5.1, created 5.0, version 2
//	get(6) -> not found
//
// ver counts the revisions appended to the generation, tombstone included
// (as in etcd); the version of a revision at position n of revs is n+1.
//
// Compaction at revision c ([keyIndex.compact], etcd's rules) skips the
// generations whose tombstone is below c, keeps in the first remaining
// generation only the largest revision <= c and everything above, drops
// that generation too if all it kept is its tombstone, and leaves created
// and ver untouched (so versions stay right). An index left with only an
// empty generation is removed from the tree. With the example above:
//
//	compact(3) -> {empty} {5.0 5.1 6.0t} {3.0 4.0t}
//	compact(4) -> {empty} {5.0 5.1 6.0t}   (4.0t was all that was left)
//	compact(6) -> {empty}                  (key removed)
//
// keyIndex is not safe for concurrent use; the Store guards it with its mu.
type keyIndex struct {
	key         []byte
	modified    revision // the last revision appended
	generations []generation
}

// keyIndexAlloc is a keyIndex with room for its first generation, that
// generation's first revision and a short key, so that indexing a new key
// takes one allocation instead of four. A key that outgrows the generation
// or revision moves to ordinary slices, as append does; the room it leaves
// is what the first small slices would have cost anyway. Besides the
// allocations, this keeps the index cheap for the garbage collector, which
// marks every live object on every cycle: the index is most of a member's
// live objects, and one object per key instead of two halves its share.
type keyIndexAlloc struct {
	ki  keyIndex
	gen [1]generation
	rev [1]revision
	key [inlineKeyBytes]byte
}

// inlineKeyBytes is the longest key kept inside its keyIndexAlloc; a longer
// one gets its own copy. With it, keyIndexAlloc is 160 bytes, one of the
// allocator's size classes.
const inlineKeyBytes = 32

// newKeyIndex returns an empty keyIndex owning a copy of key.
func newKeyIndex(key []byte) *keyIndex {
	a := &keyIndexAlloc{}
	a.gen[0].revs = a.rev[:0:1]
	a.ki.generations = a.gen[:0:1]
	if len(key) <= len(a.key) {
		// Capped, so that an append to the key can never write into the
		// rest of the array.
		a.ki.key = a.key[:len(key):len(key)]
		copy(a.ki.key, key)
	} else {
		a.ki.key = cloneBytes(key)
	}
	return &a.ki
}

// firstGen starts the first generation of a key that has none, in the room
// newKeyIndex reserved for it if there is any.
func (ki *keyIndex) firstGen() {
	if cap(ki.generations) > 0 {
		ki.generations = ki.generations[:1]
		g := &ki.generations[0]
		*g = generation{revs: g.revs[:0]}
		return
	}
	ki.generations = append(ki.generations, generation{})
}

// generation is one life of a key: from a creation to a deletion.
type generation struct {
	ver     int64
	created revision // revision of the first put
	revs    []revision
}

func (g *generation) isEmpty() bool { return len(g.revs) == 0 }

// put appends a put revision to the current generation.
func (ki *keyIndex) put(rev revision) error {
	if !rev.greaterThan(ki.modified) {
		return fmt.Errorf("%w: revision %d.%d not above %d.%d for key %q",
			ErrCorruptRecord, rev.main, rev.sub, ki.modified.main, ki.modified.sub, ki.key)
	}
	if len(ki.generations) == 0 {
		ki.firstGen()
	}
	g := &ki.generations[len(ki.generations)-1]
	if g.isEmpty() {
		g.created = rev
	}
	g.revs = append(g.revs, rev)
	g.ver++
	ki.modified = rev
	return nil
}

// tombstone ends the current generation at rev.
func (ki *keyIndex) tombstone(rev revision) error {
	if !ki.isLive() {
		return fmt.Errorf("%w: tombstone for deleted key %q", ErrCorruptRecord, ki.key)
	}
	if err := ki.put(rev); err != nil {
		return err
	}
	ki.generations = append(ki.generations, generation{})
	return nil
}

// isLive reports whether the key exists at the latest revision in the index.
func (ki *keyIndex) isLive() bool {
	return len(ki.generations) > 0 && !ki.generations[len(ki.generations)-1].isEmpty()
}

// get returns the revision of the key visible at atRev, its creation
// revision and its version. ok is false when the key does not exist at atRev.
func (ki *keyIndex) get(atRev int64) (modified, created revision, ver int64, ok bool) {
	g := ki.findGeneration(atRev)
	if g == nil {
		return revision{}, revision{}, 0, false
	}
	for n := len(g.revs) - 1; n >= 0; n-- {
		if g.revs[n].main <= atRev {
			return g.revs[n], g.created, g.ver - int64(len(g.revs)-n-1), true
		}
	}
	return revision{}, revision{}, 0, false
}

// findGeneration returns the generation that holds the key's state at rev,
// or nil when the key does not exist at rev.
func (ki *keyIndex) findGeneration(rev int64) *generation {
	last := len(ki.generations) - 1
	for cg := last; cg >= 0; cg-- {
		g := &ki.generations[cg]
		if g.isEmpty() {
			continue
		}
		if cg != last {
			// A non-last generation ends with its tombstone.
			if tomb := g.revs[len(g.revs)-1].main; tomb <= rev {
				return nil
			}
		}
		if g.revs[0].main <= rev {
			return g
		}
	}
	return nil
}

// compact applies a compaction at atRev (see the type's doc) and reports
// whether nothing is left (the caller removes the key from the tree).
func (ki *keyIndex) compact(atRev int64) (empty bool) {
	if len(ki.generations) == 0 {
		return true
	}
	last := len(ki.generations) - 1
	genIdx := 0
	for genIdx < last {
		g := &ki.generations[genIdx]
		if tomb := g.revs[len(g.revs)-1].main; tomb >= atRev {
			break
		}
		genIdx++
	}
	if g := &ki.generations[genIdx]; !g.isEmpty() {
		keep := -1
		for n := len(g.revs) - 1; n >= 0; n-- {
			if g.revs[n].main <= atRev {
				keep = n
				break
			}
		}
		if keep > 0 {
			g.revs = append([]revision(nil), g.revs[keep:]...)
		}
		if len(g.revs) == 1 && genIdx != last && g.revs[0].main <= atRev {
			genIdx++ // only the tombstone was left
		}
	}
	if genIdx > 0 {
		ki.generations = append([]generation(nil), ki.generations[genIdx:]...)
	}
	return len(ki.generations) == 1 && ki.generations[0].isEmpty()
}

// has reports whether rev is one of the revisions the index holds.
func (ki *keyIndex) has(rev revision) bool {
	for i := range ki.generations {
		g := &ki.generations[i]
		if g.isEmpty() || g.revs[0].greaterThan(rev) || rev.greaterThan(g.revs[len(g.revs)-1]) {
			continue
		}
		_, found := slices.BinarySearchFunc(g.revs, rev, func(a, b revision) int {
			switch {
			case a == b:
				return 0
			case a.greaterThan(b):
				return 1
			}
			return -1
		})
		if found {
			return true
		}
	}
	return false
}

// restoreGen starts a new generation at rev for a key rebuilt from a
// compacted database, whose first surviving record carries the
// generation's creation revision and version.
func (ki *keyIndex) restoreGen(rev revision, created, ver int64) error {
	if !rev.greaterThan(ki.modified) {
		return fmt.Errorf("%w: revision %d.%d not above %d.%d for key %q",
			ErrCorruptRecord, rev.main, rev.sub, ki.modified.main, ki.modified.sub, ki.key)
	}
	if ki.isLive() {
		return fmt.Errorf("%w: restoring a generation of live key %q", ErrCorruptRecord, ki.key)
	}
	if len(ki.generations) == 0 {
		ki.firstGen()
	}
	g := &ki.generations[len(ki.generations)-1]
	g.created = revision{main: created}
	g.ver = ver
	g.revs = append(g.revs, rev)
	ki.modified = rev
	return nil
}
