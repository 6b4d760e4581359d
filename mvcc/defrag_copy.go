package mvcc

import (
	"bytes"
	"cmp"
	"context"

	bolt "go.etcd.io/bbolt"
)

// The copy of a defragmentation (see defrag.go): the key bucket chunk by
// chunk while commits go on, then the other buckets whole in the switch.

// copyLive copies the key bucket while commits go on: a first pass over
// the whole bucket, then catch-up passes over what was committed during
// the previous one, until a pass is short (or defragMaxCatchUp passes).
func (r *defragRun) copyLive(ctx context.Context) error {
	for pass := 0; ; pass++ {
		n, err := r.copyToEnd(ctx)
		if err != nil {
			return err
		}
		if pass == 0 {
			if err := r.s.defragStep(defragStepCopied); err != nil {
				return r.fail(err)
			}
		}
		if err := r.sync(); err != nil {
			return err
		}
		if pass > 0 && (n <= defragSwitchRecords || pass >= defragMaxCatchUp) {
			return nil
		}
	}
}

// copyToEnd copies key records after r.last, chunk by chunk, until a chunk
// reaches the end of the bucket, and returns how many it copied. Between
// chunks it checks whether to stop (ctx is nil in the switch, which does
// not stop).
func (r *defragRun) copyToEnd(ctx context.Context) (int64, error) {
	var total int64
	for {
		if ctx != nil {
			if err := r.check(ctx); err != nil {
				return total, err
			}
		}
		n, end, err := r.copyChunk()
		total += n
		if err != nil {
			if ctx != nil {
				if cerr := r.check(ctx); cerr != nil {
					return total, cerr // e.g. the database closed under the chunk
				}
			}
			return total, r.fail(err)
		}
		if end {
			return total, nil
		}
		if r.since >= defragSyncBytes {
			if err := r.sync(); err != nil {
				return total, err
			}
		}
	}
}

// copyChunk copies up to defragChunkBytes of key records after r.last
// from the live database into the copy, in one read txn and one write txn,
// and reports whether it reached the end of the bucket.
func (r *defragRun) copyChunk() (n int64, end bool, err error) {
	stx, err := r.src.Begin(false)
	if err != nil {
		return 0, false, err
	}
	// The copy's txn refers to the live database's mmap until it commits.
	defer func() { _ = stx.Rollback() }()
	err = r.dst.Update(func(dtx *bolt.Tx) error {
		kb := dtx.Bucket(bucketKey)
		kb.FillPercent = 1.0 // records are appended in key order
		c := stx.Bucket(bucketKey).Cursor()
		var k, v []byte
		if r.last == nil {
			k, v = c.First()
		} else if k, v = c.Seek(r.last); bytes.Equal(k, r.last) {
			k, v = c.Next()
		}
		var size int
		var last []byte
		limit := cmp.Or(r.s.cfg.defragChunkBytes, defragChunkBytes)
		for ; k != nil && size < limit; k, v = c.Next() {
			if err := kb.Put(k, v); err != nil {
				return err
			}
			size += len(k) + len(v)
			n++
			last = k
		}
		end = k == nil
		if last != nil {
			r.last = bytes.Clone(last)
		}
		r.since += int64(size)
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	r.st.Records += n
	return n, end, nil
}

// sync fsyncs the copy (unless the store runs without fsync, in tests).
func (r *defragRun) sync() error {
	r.since = 0
	if r.s.cfg.noSync {
		return nil
	}
	return r.fail(r.dst.Sync())
}

// copyOtherBuckets replaces every bucket of the copy but the key bucket
// with the live database's (meta, lease and any other), whole. Caller
// holds commitMu.
func (r *defragRun) copyOtherBuckets() error {
	stx, err := r.src.Begin(false)
	if err != nil {
		return err
	}
	defer func() { _ = stx.Rollback() }()
	return r.dst.Update(func(dtx *bolt.Tx) error {
		var stale [][]byte
		err := dtx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if !bytes.Equal(name, bucketKey) {
				stale = append(stale, bytes.Clone(name))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, name := range stale {
			if err := dtx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return stx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if bytes.Equal(name, bucketKey) {
				return dtx.Bucket(bucketKey).SetSequence(b.Sequence())
			}
			nb, err := dtx.CreateBucket(name)
			if err != nil {
				return err
			}
			return copyBucket(nb, b)
		})
	})
}

// copyBucket copies every record and nested bucket of src into dst.
func copyBucket(dst, src *bolt.Bucket) error {
	dst.FillPercent = 1.0
	if err := dst.SetSequence(src.Sequence()); err != nil {
		return err
	}
	return src.ForEach(func(k, v []byte) error {
		if v != nil {
			return dst.Put(k, v)
		}
		nb, err := dst.CreateBucket(k)
		if err != nil {
			return err
		}
		return copyBucket(nb, src.Bucket(k))
	})
}
