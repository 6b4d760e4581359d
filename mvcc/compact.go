package mvcc

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// compactWaiter is the done channel of one compaction, closed once the
// physical deletion has reached rev (or the store closed or was restored).
type compactWaiter struct {
	rev  int64
	done chan struct{}
}

// Compact compacts history up to rev as part of this write txn, so that it
// is ordered with the raft log and covered by the consistent index.
//
// It returns ErrCompacted when rev <= [Store.CompactRev] and ErrFutureRev
// when rev is above the revision this txn began at; the txn is unchanged
// then. On success, [Store.CompactRev] is rev at once: reads below rev fail
// with ErrCompacted, reading at rev works, and the in-memory index keeps,
// per key, only what reads at rev or later need (see keyIndex). Compaction
// does not change the revision. The compaction revision is persisted in the
// meta bucket by the first bbolt commit after End, together with this txn's
// consistent index. Physical deletion of the compacted records then runs in
// the background in batches of Config.CompactBatchLimit records per bbolt
// transaction, pausing Config.CompactBatchInterval between batches; done is
// closed when it has finished, or when the store is closed or restored
// (a later Open resumes an interrupted deletion).
//
// Records at exactly rev stay in bbolt until a later compaction, so that a
// watcher starting at rev sees every event of rev (etcd's index drops a
// tombstone at the compaction revision, which would otherwise lose it).
func (t *TxnWrite) Compact(rev int64) (done <-chan struct{}, err error) {
	t.checkOpen()
	if t.err != nil {
		return nil, t.err
	}
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev <= s.compactRev {
		return nil, fmt.Errorf("%w: compact at %d, compaction revision is %d", ErrCompacted, rev, s.compactRev)
	}
	if rev > t.beginRev {
		return nil, fmt.Errorf("%w: compact at %d, current revision is %d", ErrFutureRev, rev, t.beginRev)
	}
	s.compactRev = rev
	s.index.compact(rev)
	t.compactTo = rev
	if t.compactDone == nil {
		t.compactDone = make(chan struct{})
	}
	s.lg.Debug("mvcc: compacted index", "rev", rev)
	return t.compactDone, nil
}

// releaseCompactWaitersLocked closes the done channels for which release
// returns true; mu is held.
func (s *Store) releaseCompactWaitersLocked(release func(compactWaiter) bool) {
	kept := s.compactWaiters[:0]
	for _, w := range s.compactWaiters {
		if release(w) {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	clear(s.compactWaiters[len(kept):])
	s.compactWaiters = kept
}

func (s *Store) kickCompactor() {
	select {
	case s.compactKick <- struct{}{}:
	default:
	}
}

// compactCursor is the physical compaction's position.
type compactCursor struct {
	gen    uint64
	target int64
	pos    revision
}

// runCompactor deletes compacted records in the background until Close.
func (s *Store) runCompactor() {
	defer s.wg.Done()
	var cur compactCursor
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-s.compactKick:
		}
		for {
			more, err := s.compactBatch(&cur)
			if err != nil {
				s.lg.Warn("mvcc: physical compaction", "err", err)
				break
			}
			if !more {
				break
			}
			timer.Reset(s.cfg.CompactBatchInterval)
			select {
			case <-s.stopc:
				return
			case <-timer.C:
			}
		}
	}
}

// compactBatch deletes up to Config.CompactBatchLimit records that the
// compaction made unreachable: main revision below the scheduled
// compaction revision and no longer held by the key index. It reports
// whether work remains.
func (s *Store) compactBatch(cur *compactCursor) (more bool, err error) {
	s.mu.RLock()
	if s.closed || s.failErr != nil {
		s.mu.RUnlock()
		return false, nil
	}
	target, finished, durable, gen, db := s.schedCompactRev, s.finishedCompactRev, s.durableSched, s.restoreGen, s.db
	paused := s.defragging // Defrag kicks the compactor when it ends
	s.mu.RUnlock()
	if finished >= target || paused {
		return false, nil
	}
	if durable < target {
		// Every record <= target must be in bbolt before deleting, or a
		// later commit would write compacted records back. This commit
		// also persists the compaction revision.
		return true, s.commit()
	}
	if cur.gen != gen || cur.target != target {
		// From the first record, not from the previous target: a record
		// that an earlier compaction kept (live then) may be unreachable
		// now, its key deleted since.
		*cur = compactCursor{gen: gen, target: target}
	}

	type rec struct {
		k   []byte
		rev revision
		key []byte
	}
	var recs []rec
	last := true
	err = db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketKey).Cursor()
		for k, v := c.Seek(revToBytes(cur.pos, false)); k != nil; k, v = c.Next() {
			rev, _, err := bytesToRev(k)
			if err != nil {
				return err
			}
			if rev.main >= target {
				return nil
			}
			if len(recs) == s.cfg.CompactBatchLimit {
				last = false
				cur.pos = rev
				return nil
			}
			kv, err := decodeKeyValue(v)
			if err != nil {
				return err
			}
			recs = append(recs, rec{k: cloneBytes(k), rev: rev, key: kv.Key})
		}
		return nil
	})
	if err != nil {
		return false, err
	}

	var del [][]byte
	s.mu.RLock()
	if s.restoreGen != gen {
		s.mu.RUnlock()
		return true, nil
	}
	for _, r := range recs {
		if ki := s.index.keyIndex(r.key); ki == nil || !ki.has(r.rev) {
			del = append(del, r.k)
		}
	}
	s.mu.RUnlock()

	s.commitMu.Lock()
	s.mu.RLock()
	stale := s.restoreGen != gen || s.db != db || s.defragging || s.closed || s.failErr != nil
	s.mu.RUnlock()
	if stale {
		s.commitMu.Unlock()
		return true, nil
	}
	err = s.updateDB(db, func(tx *bolt.Tx) error {
		kb := tx.Bucket(bucketKey)
		for _, k := range del {
			if err := kb.Delete(k); err != nil {
				return err
			}
		}
		if !last {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(metaFinishedCompactRev, u64Bytes(uint64(target)))
	})
	s.mu.Lock()
	s.renewReadTxLocked()
	s.mu.Unlock()
	s.commitMu.Unlock()
	if err != nil {
		s.fail(fmt.Errorf("physical compaction: %w", err))
		return false, err
	}
	if last {
		s.mu.Lock()
		if s.restoreGen == gen {
			s.finishedCompactRev = target
			s.releaseCompactWaitersLocked(func(w compactWaiter) bool { return w.rev <= target })
		}
		s.mu.Unlock()
		s.lg.Debug("mvcc: physical compaction finished", "rev", target)
	}
	return true, nil
}
