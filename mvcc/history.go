package mvcc

import (
	"fmt"
)

// readHistoryLocked returns the events of revisions [lo, hi] (lo at or
// above the compaction revision, hi at or below the current revision) in
// revision order, from bbolt (a read transaction opened while mu is held)
// and the pending list. With withPrev, PrevKv is the key's version at
// ModRevision-1 (nil when that is below the compaction revision or the key
// did not exist then). mu is held (read).
func (s *Store) readHistoryLocked(lo, hi int64, withPrev bool) ([]*Event, error) {
	type rec struct {
		rev  revision
		tomb bool
		kv   *KeyValue
	}
	var recs []rec
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("mvcc: read history: %w", err)
	}
	c := tx.Bucket(bucketKey).Cursor()
	for k, v := c.Seek(revToBytes(revision{main: lo}, false)); k != nil; k, v = c.Next() {
		rev, tomb, err := bytesToRev(k)
		if err != nil {
			_ = tx.Rollback()
			return nil, err
		}
		if rev.main > hi {
			break
		}
		kv, err := decodeKeyValue(v)
		if err != nil {
			_ = tx.Rollback()
			return nil, err
		}
		recs = append(recs, rec{rev: rev, tomb: tomb, kv: kv})
	}
	_ = tx.Rollback()
	// Pending records up to the last one found in bbolt are committed
	// duplicates (commits write prefixes of the pending list).
	committed := len(recs) > 0
	var lastBolt revision
	if committed {
		lastBolt = recs[len(recs)-1].rev
	}
	for _, p := range s.pending {
		if p.rev.main > hi {
			break
		}
		if p.rev.main < lo || (committed && !p.rev.greaterThan(lastBolt)) {
			continue
		}
		recs = append(recs, rec{rev: p.rev, tomb: p.tombstone, kv: p.kv.clone()})
	}

	evs := make([]*Event, len(recs))
	var prevRevs []revision
	var prevAt []int
	for i, r := range recs {
		if r.tomb {
			evs[i] = &Event{Type: EventTypeDelete, Kv: &KeyValue{Key: r.kv.Key, ModRevision: r.rev.main}}
		} else {
			evs[i] = &Event{Type: EventTypePut, Kv: r.kv}
		}
		if !withPrev || r.rev.main-1 < s.compactRev {
			continue
		}
		if ki := s.index.keyIndex(r.kv.Key); ki != nil {
			if m, _, _, ok := ki.get(r.rev.main - 1); ok {
				prevRevs = append(prevRevs, m)
				prevAt = append(prevAt, i)
			}
		}
	}
	if len(prevRevs) > 0 {
		prevs, err := s.fetchLocked(prevRevs)
		if err != nil {
			return nil, err
		}
		for j, i := range prevAt {
			evs[i].PrevKv = prevs[j]
		}
	}
	return evs, nil
}
