package mvcc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets and meta keys of the bbolt file. The key bucket is keyed by
// revision (see revToBytes) and holds encoded KeyValues (see
// encodeKeyValue); tombstones carry only the Key. The lease bucket holds
// the lease records, keyed by ID (see lease_codec.go).
var (
	bucketKey   = []byte("key")
	bucketMeta  = []byte("meta")
	bucketLease = []byte("lease")

	metaSchema          = []byte("schema")
	metaConsistentIndex = []byte("consistent_index")
	// metaCompactRev is the scheduled compaction revision: what reads
	// check, written in the same bbolt commit as the consistent index of the
	// txn that compacted. metaFinishedCompactRev is how far the physical
	// deletion has got; Open resumes it when it is behind.
	metaCompactRev         = []byte("compact_rev")
	metaFinishedCompactRev = []byte("compact_finished_rev")
	// metaClusterState is the owner's opaque cluster state (see
	// TxnWrite.SetClusterState); absent until first set.
	metaClusterState = []byte("cluster_state")
	// metaAlarms is the owner's opaque alarm state (see
	// TxnWrite.SetAlarms); absent until first set.
	metaAlarms = []byte("alarms")

	// schemaV2 is the current schema: v1 plus the lease bucket. A v1
	// database (no leases) is read as having no leases and upgraded to v2
	// by Open and Restore (initSchema).
	schemaV1 = []byte("keel-mvcc-v1")
	schemaV2 = []byte("keel-mvcc-v2")
)

// openBolt opens (creating if missing) the bbolt file at path.
func openBolt(path string, cfg Config, readOnly bool) (*bolt.DB, error) {
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         5 * time.Second,
		InitialMmapSize: cfg.InitialMmapSize,
		ReadOnly:        readOnly,
		NoSync:          cfg.noSync,
	})
}

// initSchema creates the buckets and meta keys of an empty database, and
// upgrades a v1 database to v2 (adds the empty lease bucket). A database
// with another schema marker is left alone (loadState rejects it).
func initSchema(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		kb, err := tx.CreateBucketIfNotExists(bucketKey)
		if err != nil {
			return err
		}
		mb, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch schema := mb.Get(metaSchema); {
		case bytes.Equal(schema, schemaV2):
			return nil
		case bytes.Equal(schema, schemaV1):
			if _, err := tx.CreateBucketIfNotExists(bucketLease); err != nil {
				return err
			}
			return mb.Put(metaSchema, schemaV2)
		case schema != nil:
			return nil
		}
		if k, _ := kb.Cursor().First(); k != nil {
			return fmt.Errorf("%w: data without schema marker", ErrCorruptSnapshot)
		}
		if _, err := tx.CreateBucketIfNotExists(bucketLease); err != nil {
			return err
		}
		if err := mb.Put(metaSchema, schemaV2); err != nil {
			return err
		}
		return mb.Put(metaConsistentIndex, u64Bytes(0))
	})
}

func u64Bytes(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// loadedState is what a Store rebuilds from its bbolt file.
type loadedState struct {
	index           *treeIndex
	currentRev      int64
	compactRev      int64 // scheduled
	finishedRev     int64 // physical deletion done up to here
	consistentIndex uint64
	leases          leaseTable
	owner           [numOwnerSlots][]byte // owner_state.go
}

// loadState validates the schema and rebuilds the key index, the current
// revision (max of the newest revision and the compaction revision, etcd
// pull 6633), the compaction revision and the consistent index. Every error
// wraps ErrCorruptSnapshot.
func loadState(db *bolt.DB) (st *loadedState, err error) {
	// Turn memory faults on a truncated or corrupt mmap into panics, and
	// panics into errors.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		// A structurally corrupt bbolt file can make bbolt panic while
		// traversing; report it as corruption instead.
		if r := recover(); r != nil {
			st, err = nil, fmt.Errorf("%w: bbolt panic: %v", ErrCorruptSnapshot, r)
		}
	}()
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = loadStateTx(tx)
		return err
	})
	if err != nil && !errors.Is(err, ErrCorruptSnapshot) {
		err = fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
	}
	return st, err
}

func loadStateTx(tx *bolt.Tx) (*loadedState, error) {
	fi, err := os.Stat(tx.DB().Path())
	if err != nil {
		return nil, err
	}
	if tx.Size() > fi.Size() {
		return nil, fmt.Errorf("%w: file is %d bytes, database claims %d (truncated)", ErrCorruptSnapshot, fi.Size(), tx.Size())
	}
	mb := tx.Bucket(bucketMeta)
	kb := tx.Bucket(bucketKey)
	if mb == nil || kb == nil {
		return nil, fmt.Errorf("%w: missing bucket", ErrCorruptSnapshot)
	}
	lb := tx.Bucket(bucketLease)
	switch schema := mb.Get(metaSchema); {
	case bytes.Equal(schema, schemaV2):
		if lb == nil {
			return nil, fmt.Errorf("%w: missing lease bucket", ErrCorruptSnapshot)
		}
	case bytes.Equal(schema, schemaV1):
		// Before leases: lb may be missing; initSchema upgrades it.
	default:
		return nil, fmt.Errorf("%w: unknown schema %q", ErrCorruptSnapshot, schema)
	}
	st := &loadedState{index: newTreeIndex(), leases: newLeaseTable()}
	ci, err := metaU64(mb, metaConsistentIndex)
	if err != nil {
		return nil, err
	}
	st.consistentIndex = ci
	cr, err := metaU64(mb, metaCompactRev)
	if err != nil {
		return nil, err
	}
	st.compactRev = int64(cr)
	fr, err := metaU64(mb, metaFinishedCompactRev)
	if err != nil {
		return nil, err
	}
	st.finishedRev = int64(fr)
	st.owner = loadOwnerTx(mb)
	if st.compactRev < 0 || st.finishedRev < 0 || st.finishedRev > st.compactRev {
		return nil, fmt.Errorf("%w: bad compaction revisions %d (finished %d)", ErrCorruptSnapshot, st.compactRev, st.finishedRev)
	}
	// leaseOf is the lease of each key's newest record (absent: none or a
	// tombstone); the live keys among them are the attachments.
	leaseOf := map[string]int64{}
	var maxMain int64
	// kv aliases the records (mmap memory, valid during the txn); the index
	// copies the keys it keeps, and leaseOf's keys are copies.
	var kv KeyValue
	c := kb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rev, tomb, err := bytesToRev(k)
		if err != nil {
			return nil, err
		}
		if err := decodeKeyValueView(v, &kv); err != nil {
			return nil, err
		}
		ki := st.index.getOrCreate(kv.Key)
		switch {
		case tomb && !ki.isLive() && rev.main <= st.compactRev:
			// The generation's puts were compacted away; the
			// compaction below drops the tombstone from the index too.
			ki.compactedTombstone(rev)
		case tomb:
			err = ki.tombstone(rev)
		case kv.ModRevision != rev.main:
			return nil, fmt.Errorf("%w: record at %d has mod revision %d", ErrCorruptRecord, rev.main, kv.ModRevision)
		case !ki.isLive() && st.compactRev > 0:
			// Earlier revisions of this generation may have been
			// compacted away: the record carries its generation.
			err = ki.restoreGen(rev, kv.CreateRevision, kv.Version)
		default:
			err = ki.put(rev)
		}
		if err != nil {
			return nil, err
		}
		if tomb || kv.Lease == 0 {
			delete(leaseOf, string(kv.Key))
		} else {
			leaseOf[string(kv.Key)] = kv.Lease
		}
		maxMain = max(maxMain, rev.main)
	}
	st.currentRev = max(1, maxMain, st.compactRev)
	if st.compactRev > 0 {
		st.index.compact(st.compactRev)
	}
	for k, id := range leaseOf {
		if ki := st.index.keyIndex([]byte(k)); ki != nil && ki.isLive() {
			st.leases.attach(id, k)
		}
	}
	if lb != nil {
		err := lb.ForEach(func(k, v []byte) error {
			rec, err := decodeLeaseRecord(k, v)
			if err != nil {
				return err
			}
			st.leases.recs[rec.ID] = rec
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return st, nil
}

// metaU64 reads an optional 8-byte big-endian meta value (absent = 0).
func metaU64(mb *bolt.Bucket, key []byte) (uint64, error) {
	v := mb.Get(key)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: bad meta value for %q", ErrCorruptSnapshot, key)
	}
	return binary.BigEndian.Uint64(v), nil
}

// syncDir fsyncs a directory so that the creates and renames made in it
// survive a power loss (Open after creating the database file, Restore
// after renaming the restored one over it).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	return errors.Join(serr, cerr)
}
