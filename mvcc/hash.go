package mvcc

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Hash returns a CRC-32C over what reads can still see, together with the
// current revision: for every key in the index (in key order), every
// revision the index holds up to the current revision (its revision key,
// then the encoded KeyValue for a put), followed by the compaction
// revision and every lease record (ID, TTL, RemainingTTL) in ID order.
// Equal histories give equal hashes on every member, whatever
// has been committed to bbolt and however far physical compaction has got.
func (s *Store) Hash() (hash uint32, rev int64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readableLocked(); err != nil {
		return 0, 0, err
	}
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	type item struct {
		rev  revision
		tomb bool
		key  []byte
	}
	var items []item
	var puts []revision
	s.index.tree.Scan(func(ki *keyIndex) bool {
		if ki.single() {
			if ki.modified.main <= s.currentRev {
				items = append(items, item{rev: ki.modified, key: ki.key()})
				puts = append(puts, ki.modified)
			}
			return true
		}
		for gi := range ki.generations {
			g := &ki.generations[gi]
			for n, r := range g.revs {
				if r.main > s.currentRev {
					break // the open write txn
				}
				tomb := gi != len(ki.generations)-1 && n == len(g.revs)-1
				items = append(items, item{rev: r, tomb: tomb, key: ki.key()})
				if !tomb {
					puts = append(puts, r)
				}
			}
		}
		return true
	})
	kvs, err := s.fetchLocked(puts)
	if err != nil {
		return 0, 0, fmt.Errorf("mvcc: hash: %w", err)
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
	_, _ = h.Write(binary.BigEndian.AppendUint64(nil, uint64(s.compactRev)))
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
