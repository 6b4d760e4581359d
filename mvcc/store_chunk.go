package mvcc

import "unsafe"

// ChunkOptions are the options of RangeChunk. Its zero value reads one key
// at the latest revision.
type ChunkOptions struct {
	// Rev is the revision to read at, with RangeOptions.Rev's meaning and
	// errors. A caller reading a range in chunks passes the Rev of its
	// first chunk's result to every later one, so that all see one state.
	Rev int64
	// MaxKeys bounds the number of KVs; values below 1 mean 1.
	MaxKeys int
	// MaxBytes ends the chunk after the KV that brings its Bytes to
	// MaxBytes or more, so a chunk holds at least one KV; 0 means no bound.
	MaxBytes int
	// KeysOnly returns KVs without their Value (nil), which is then never
	// copied out of the database.
	KeysOnly bool
}

// ChunkResult is the result of a RangeChunk; the caller owns it.
type ChunkResult struct {
	// KVs are the first live keys of the range, in key order (nil if
	// none).
	KVs []*KeyValue
	// ReadRev is the revision the chunk was read at.
	ReadRev int64
	// Rev is the store's current revision at the time of the read, as
	// RangeResult.Rev.
	Rev int64
	// More is true when live keys of the range follow the last of KVs.
	More bool
	// Bytes estimates the memory KVs take: their keys, values and
	// KeyValue structs.
	Bytes int
}

// kvOverhead is what a KeyValue costs besides its key and value: the
// struct and the slice element pointing to it.
const kvOverhead = int(unsafe.Sizeof(KeyValue{})) + int(unsafe.Sizeof(uintptr(0)))

// RangeChunk reads the first live keys, in key order, of the range
// described by key and end (same encoding as [Store.Range]), at co.Rev,
// up to co.MaxKeys keys or co.MaxBytes bytes. Unlike Range, it neither
// counts the range nor looks past the chunk (but for one key, to set
// More), so its time and memory are those of the chunk, not of the range:
// a range of any size is read in chunks by starting each one just after
// the previous chunk's last key (that key + "\x00") at the first chunk's
// ReadRev. A chunk fails with ErrCompacted once a compaction passes that
// revision. Errors: those of Range.
func (s *Store) RangeChunk(key, end []byte, co ChunkOptions) (*ChunkResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readableLocked(); err != nil {
		return nil, err
	}
	rev, err := s.readRevLocked(co.Rev, s.currentRev)
	if err != nil {
		return nil, err
	}
	maxKeys := max(co.MaxKeys, 1)
	res := &ChunkResult{ReadRev: rev, Rev: s.currentRev}
	revs := make([]revision, 0, min(maxKeys+1, 1024))
	s.index.visit(key, end, func(ki *keyIndex) bool {
		if m, _, _, ok := ki.get(rev); ok {
			revs = append(revs, m)
		}
		return len(revs) <= maxKeys
	})
	if len(revs) > maxKeys {
		res.More = true
		revs = revs[:maxKeys]
	}
	if len(revs) == 0 {
		return res, nil
	}
	res.KVs = make([]*KeyValue, 0, len(revs))
	r := recordReader{s: s}
	defer r.close()
	for i, rev := range revs {
		kv, err := s.chunkKV(&r, rev, co.KeysOnly)
		if err != nil {
			return nil, err
		}
		res.KVs = append(res.KVs, kv)
		res.Bytes += len(kv.Key) + len(kv.Value) + kvOverhead
		if co.MaxBytes > 0 && res.Bytes >= co.MaxBytes && i < len(revs)-1 {
			res.More = true
			break
		}
	}
	return res, nil
}

// chunkKV returns a copy of the KeyValue at rev, without its value if
// keysOnly.
func (s *Store) chunkKV(r *recordReader, rev revision, keysOnly bool) (*KeyValue, error) {
	kv, rec, err := r.read(rev)
	switch {
	case err != nil:
		return nil, err
	case kv != nil && !keysOnly:
		return kv.clone(), nil
	case kv != nil:
		c := *kv
		c.Key, c.Value = cloneBytes(kv.Key), nil
		return &c, nil
	case !keysOnly:
		return decodeKeyValue(rec)
	}
	var view KeyValue
	if err := decodeKeyValueView(rec, &view); err != nil {
		return nil, err
	}
	view.Key, view.Value = cloneBytes(view.Key), nil
	return &view, nil
}
