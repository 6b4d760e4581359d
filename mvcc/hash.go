package mvcc

import (
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
)

// Hash returns a CRC-32C over what reads can still see, together with the
// current revision: the key history as HashKV hashes it at the current
// revision, followed by every lease record (ID, TTL, RemainingTTL) in ID
// order. Equal histories and lease tables give equal hashes on every
// member, whatever has been committed to bbolt and however far physical
// compaction has got.
func (s *Store) Hash() (hash uint32, rev int64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readableLocked(); err != nil {
		return 0, 0, err
	}
	h := crc32.New(castagnoli)
	if err := s.hashKeysLocked(h, s.currentRev); err != nil {
		return 0, 0, err
	}
	// Lease records, in ID order, with every replicated field: ID, TTL
	// and RemainingTTL (a checkpoint is a raft command applied on every
	// member, so members agree on it). Attachments are not hashed
	// separately: they follow from the keys' Lease fields, hashed above.
	var b []byte
	for _, rec := range s.leases.sortedRecords() {
		b = binary.BigEndian.AppendUint64(b[:0], uint64(rec.ID))
		b = binary.BigEndian.AppendUint64(b, uint64(rec.TTL))
		b = binary.BigEndian.AppendUint64(b, uint64(rec.RemainingTTL))
		_, _ = h.Write(b)
	}
	return h.Sum32(), s.currentRev, nil
}

// KVHash is the result of [Store.HashKV].
type KVHash struct {
	// Hash is the CRC-32C of the key history up to Revision.
	Hash uint32
	// Revision is the revision hashed (HashKV's rev, or the current
	// revision for rev 0).
	Revision int64
	// CompactRevision is the compaction revision when the hash was taken.
	CompactRevision int64
	// CurrentRevision is the store's revision when the hash was taken.
	CurrentRevision int64
}

// HashKV returns a CRC-32C of the key history up to revision rev (0: the
// current revision), as etcd's HashKV: for every key in the index (in key
// order), every revision the index holds at or below rev (its revision
// key, then the encoded KeyValue for a put, or the key for a tombstone),
// followed by the compaction revision. Leases are not part of it: they
// have no revisions, so two members at the same revision may differ in
// them for a moment (a grant does not change the revision). Two members
// that applied the same history report the same hash at a revision both
// have reached, provided they report the same CompactRevision (a
// compaction removes revisions from the history without changing the
// revision); the hash does not depend on what has been committed to
// bbolt or how far physical compaction has got.
//
// rev below the compaction revision returns ErrCompacted; rev above the
// current revision ErrFutureRev.
func (s *Store) HashKV(rev int64) (KVHash, error) {
	s.mu.RLock()
	err := s.readableLocked()
	switch {
	case err != nil:
	case rev < 0:
		err = fmt.Errorf("mvcc: hash: negative revision %d", rev)
	case rev > s.currentRev:
		err = ErrFutureRev
	case rev > 0 && rev < s.compactRev:
		err = ErrCompacted
	case rev == 0:
		rev = s.currentRev
	}
	out := KVHash{Revision: rev, CompactRevision: s.compactRev, CurrentRevision: s.currentRev}
	gen := s.restoreGen
	s.mu.RUnlock()
	if err != nil {
		return KVHash{}, err
	}
	// In chunks of keys, each under the read lock on its own, so that
	// writes (which End under the write lock) wait for one chunk at most,
	// not for the whole history. History up to rev does not change
	// between chunks unless a compaction or a Restore changes it, which
	// ends the hash.
	h := crc32.New(castagnoli)
	var from []byte
	for done := false; !done; {
		s.mu.RLock()
		err := s.readableLocked()
		switch {
		case err != nil:
		case s.compactRev != out.CompactRevision:
			err = fmt.Errorf("%w: compacted while hashing", ErrCompacted)
		case s.restoreGen != gen:
			err = fmt.Errorf("mvcc: hash: the database was replaced while hashing")
		default:
			from, done, err = s.hashChunkLocked(h, rev, from, hashChunkKeys)
		}
		s.mu.RUnlock()
		if err != nil {
			return KVHash{}, err
		}
	}
	_, _ = h.Write(binary.BigEndian.AppendUint64(nil, uint64(out.CompactRevision)))
	out.Hash = h.Sum32()
	return out, nil
}

// hashChunkKeys is how many keys HashKV hashes per hold of the read lock.
const hashChunkKeys = 4096

// hashKeysLocked writes the key history up to rev, then the compaction
// revision, to h (see HashKV). Caller holds mu.
func (s *Store) hashKeysLocked(h hash.Hash32, rev int64) error {
	if _, _, err := s.hashChunkLocked(h, rev, nil, 0); err != nil {
		return err
	}
	_, _ = h.Write(binary.BigEndian.AppendUint64(nil, uint64(s.compactRev)))
	return nil
}

// hashChunkLocked writes to h the history up to rev of at most limit keys
// (0: every key) from key from on (nil: the first), in key order: for
// each revision, its revision key, then the encoded KeyValue of a put or
// the key of a tombstone. It returns the key to continue from, and done
// once no key is left. Caller holds mu.
func (s *Store) hashChunkLocked(h hash.Hash32, rev int64, from []byte, limit int) (next []byte, done bool, err error) {
	type item struct {
		rev  revision
		tomb bool
		key  []byte
	}
	var items []item
	var puts []revision
	n := 0
	done = true
	visit := func(ki *keyIndex) bool {
		if limit > 0 && n == limit {
			next, done = ki.key(), false
			return false
		}
		n++
		if ki.single() {
			if ki.modified.main <= rev {
				items = append(items, item{rev: ki.modified, key: ki.key()})
				puts = append(puts, ki.modified)
			}
			return true
		}
		for gi := range ki.generations {
			g := &ki.generations[gi]
			for n, r := range g.revs {
				if r.main > rev {
					break // later history (or the open write txn)
				}
				tomb := gi != len(ki.generations)-1 && n == len(g.revs)-1
				items = append(items, item{rev: r, tomb: tomb, key: ki.key()})
				if !tomb {
					puts = append(puts, r)
				}
			}
		}
		return true
	}
	if from == nil {
		s.index.tree.Scan(visit)
	} else {
		p := s.index.probe(from)
		s.index.tree.Ascend(p, visit)
		s.index.putProbe(p)
	}
	kvs, err := s.fetchLocked(puts)
	if err != nil {
		return nil, false, fmt.Errorf("mvcc: hash: %w", err)
	}
	for _, it := range items {
		_, _ = h.Write(revToBytes(it.rev, it.tomb))
		if it.tomb {
			_, _ = h.Write(it.key)
			continue
		}
		_, _ = h.Write(encodeKeyValue(kvs[0]))
		kvs = kvs[1:]
	}
	return next, done, nil
}
