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
//
// Single form. A key with exactly one revision, the put that created it
// (version 1), has no generations slice: generations is nil and modified,
// the one revision, says everything (created is modified, version is 1).
// That is most keys of most workloads. It keeps their keyIndex free of
// pointers to itself, which the garbage collector would otherwise follow
// for every key on every cycle; with a short key kept inline
// (inlineKeyBytes), indexing such a key is one allocation of 96 bytes. A
// second revision (put, tombstone or restoreGen) first expands the key to
// the general form; a key never returns to the single form.
type keyIndex struct {
	// ext is the key when it is longer than inlineKeyBytes (and a search
	// probe's key, see treeIndex.probe); nil when the key is in short.
	ext []byte
	// generations is the history in the general form; nil in the single
	// form and in a new, empty keyIndex (whose modified is zero).
	generations []generation
	modified    revision // the last revision appended
	// short holds a key of up to inlineKeyBytes bytes, and in its last
	// byte the key's length.
	short [inlineKeyBytes + 1]byte
}

// inlineKeyBytes is the longest key kept inside its keyIndex; a longer one
// gets its own copy. With it, a keyIndex is 96 bytes, one of the
// allocator's size classes.
const inlineKeyBytes = 31

// newKeyIndex returns an empty keyIndex owning a copy of key.
func newKeyIndex(key []byte) *keyIndex {
	ki := &keyIndex{}
	if len(key) <= inlineKeyBytes {
		ki.short[inlineKeyBytes] = byte(copy(ki.short[:], key))
	} else {
		ki.ext = cloneBytes(key)
	}
	return ki
}

// key returns the key. Its bytes never change and callers may keep the
// slice (KeyValue.Key shares it); its capacity ends with the key, so an
// append to it can never write into the keyIndex.
func (ki *keyIndex) key() []byte {
	if ki.ext != nil {
		return ki.ext
	}
	n := ki.short[inlineKeyBytes]
	return ki.short[:n:n]
}

// single reports whether the key is in the single form (see keyIndex).
func (ki *keyIndex) single() bool { return ki.generations == nil && ki.modified.main != 0 }

// expand moves a key in the single form to the general form.
func (ki *keyIndex) expand() {
	ki.generations = []generation{{ver: 1, created: ki.modified, revs: []revision{ki.modified}}}
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
			ErrCorruptRecord, rev.main, rev.sub, ki.modified.main, ki.modified.sub, ki.key())
	}
	switch {
	case ki.generations == nil && ki.modified.main == 0:
		ki.modified = rev // a new key: the single form
		return nil
	case ki.single():
		ki.expand()
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
		return fmt.Errorf("%w: tombstone for deleted key %q", ErrCorruptRecord, ki.key())
	}
	if err := ki.put(rev); err != nil { // expands a key in the single form
		return err
	}
	ki.generations = append(ki.generations, generation{})
	return nil
}

// isLive reports whether the key exists at the latest revision in the index.
func (ki *keyIndex) isLive() bool {
	if ki.single() {
		return true
	}
	return len(ki.generations) > 0 && !ki.generations[len(ki.generations)-1].isEmpty()
}

// get returns the revision of the key visible at atRev, its creation
// revision and its version. ok is false when the key does not exist at atRev.
func (ki *keyIndex) get(atRev int64) (modified, created revision, ver int64, ok bool) {
	if ki.single() {
		if ki.modified.main <= atRev {
			return ki.modified, ki.modified, 1, true
		}
		return revision{}, revision{}, 0, false
	}
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
	if ki.single() {
		return false // a live key keeps its latest revision
	}
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
	if ki.single() {
		return rev == ki.modified
	}
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

// compactedTombstone records, for a key rebuilt from a compacted database,
// the tombstone of a generation whose puts were compacted away: the key is
// deleted at rev and holds no revision (a compaction at or above rev
// removes it). It keeps the key out of the single form, which a non-zero
// modified with no generations would otherwise mean.
func (ki *keyIndex) compactedTombstone(rev revision) {
	if ki.generations == nil {
		ki.generations = []generation{{}}
	}
	ki.modified = rev
}

// restoreGen starts a new generation at rev for a key rebuilt from a
// compacted database, whose first surviving record carries the
// generation's creation revision and version.
func (ki *keyIndex) restoreGen(rev revision, created, ver int64) error {
	if !rev.greaterThan(ki.modified) {
		return fmt.Errorf("%w: revision %d.%d not above %d.%d for key %q",
			ErrCorruptRecord, rev.main, rev.sub, ki.modified.main, ki.modified.sub, ki.key())
	}
	if ki.isLive() {
		return fmt.Errorf("%w: restoring a generation of live key %q", ErrCorruptRecord, ki.key())
	}
	if len(ki.generations) == 0 {
		ki.generations = append(ki.generations, generation{})
	}
	g := &ki.generations[len(ki.generations)-1]
	g.created = revision{main: created}
	g.ver = ver
	g.revs = append(g.revs, rev)
	ki.modified = rev
	return nil
}
