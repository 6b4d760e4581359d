package mvcc

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	bolt "go.etcd.io/bbolt"
)

// Hash returns a CRC-32C over every record of the key bucket (committed and
// pending, in revision order, each as its bucket key followed by its value)
// and the compaction revision, together with the current revision. Equal
// histories give equal hashes on every member, whatever has been committed.
func (s *Store) Hash() (hash uint32, rev int64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readableLocked(); err != nil {
		return 0, 0, err
	}
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	var last revision
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKey).ForEach(func(k, v []byte) error {
			r, _, err := bytesToRev(k)
			if err != nil {
				return err
			}
			last = r
			_, _ = h.Write(k)
			_, _ = h.Write(v)
			return nil
		})
	})
	if err != nil {
		return 0, 0, fmt.Errorf("mvcc: hash: %w", err)
	}
	// Committed records are a prefix of history; pending records may overlap
	// it while a finished commit waits for mu to drop them.
	for _, p := range s.pending {
		if !p.rev.greaterThan(last) {
			continue
		}
		_, _ = h.Write(revToBytes(p.rev, p.tombstone))
		_, _ = h.Write(encodeKeyValue(p.kv))
	}
	_, _ = h.Write(binary.BigEndian.AppendUint64(nil, uint64(s.compactRev)))
	return h.Sum32(), s.currentRev, nil
}
