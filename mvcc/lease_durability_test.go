package mvcc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// applyLeaseScripted applies the deterministic txn for raft index i of a
// lease workload over leases 1..4 and keys k0..k6: grants, lease puts,
// checkpoints, revokes, deletes, and lease-only txns. Expected errors
// (duplicate grant, missing lease) are ignored, as Keel's FSM does.
func applyLeaseScripted(s *Store, i uint64) {
	tx := s.Write(i)
	lease := int64(i%4) + 1
	key := func(n uint64) []byte { return []byte(fmt.Sprintf("k%d", n%7)) }
	leaseIfGranted := func(id int64) int64 {
		if _, ok := tx.Lease(id); ok {
			return id
		}
		return 0
	}
	switch i % 6 {
	case 0: // lease-only txn
		_ = tx.GrantLease(int64(i/6)%4+1, int64(5+i%7))
	case 1:
		tx.Put(key(i), []byte(fmt.Sprintf("v%d", i)), leaseIfGranted(lease))
	case 2: // checkpoint only
		_ = tx.CheckpointLease(lease, int64(i)*100)
	case 3:
		_, _ = tx.RevokeLease(int64(i/3)%4 + 1)
	case 4:
		tx.Put(key(i+1), []byte(fmt.Sprintf("w%d", i)), leaseIfGranted(lease))
		tx.Put(key(i+2), []byte(fmt.Sprintf("x%d", i)), 0)
		tx.DeleteRange(key(i+3), nil)
	default:
		_ = tx.GrantLease(lease, 3)
		tx.Put(key(i), []byte(fmt.Sprintf("y%d", i)), leaseIfGranted(lease))
	}
	tx.End()
}

// leaseView is everything observable about a store's leases, plus its hash.
type leaseView struct {
	Hash   uint32
	Rev    int64
	Leases []LeaseRecord
	Keys   map[int64][]string
}

func viewOf(tb testing.TB, s *Store) leaseView {
	tb.Helper()
	h, rev, err := s.Hash()
	require.NoError(tb, err)
	v := leaseView{Hash: h, Rev: rev, Leases: s.Leases(), Keys: map[int64][]string{}}
	for id := int64(1); id <= 4; id++ {
		v.Keys[id] = strs(s.LeaseKeys(id))
	}
	return v
}

// referenceLeaseView is the view of a fresh store that applied 1..n.
func referenceLeaseView(tb testing.TB, n uint64) leaseView {
	tb.Helper()
	ref, _ := openStore(tb, Config{})
	for i := uint64(1); i <= n; i++ {
		applyLeaseScripted(ref, i)
	}
	return viewOf(tb, ref)
}

func TestLeaseScriptIsNotTrivial(t *testing.T) {
	// Guard the workload itself: it must leave leases, attachments and
	// checkpoints behind, or the durability tests below prove little.
	v := referenceLeaseView(t, 60)
	require.NotEmpty(t, v.Leases)
	var attached, checkpointed int
	for _, ks := range v.Keys {
		attached += len(ks)
	}
	for _, l := range v.Leases {
		if l.RemainingTTL > 0 {
			checkpointed++
		}
	}
	require.Positive(t, attached)
	require.Positive(t, checkpointed)
}

func TestLeaseCloseReopen(t *testing.T) {
	s, path := openStore(t, Config{CommitInterval: time.Hour})
	for i := uint64(1); i <= 60; i++ {
		applyLeaseScripted(s, i)
	}
	want := viewOf(t, s)
	require.Equal(t, referenceLeaseView(t, 60), want)
	require.NoError(t, s.Close())

	s2 := reopen(t, path, Config{})
	require.Equal(t, want, viewOf(t, s2))
	require.EqualValues(t, 60, s2.ConsistentIndex())
	// The reopened store keeps working like the reference.
	for i := uint64(61); i <= 75; i++ {
		applyLeaseScripted(s2, i)
	}
	require.Equal(t, referenceLeaseView(t, 75), viewOf(t, s2))
}

func TestLeaseCrashAtConsistentIndex(t *testing.T) {
	const total = 40
	for _, tc := range []struct {
		name      string
		cfg       Config
		forceAt   uint64
		wantIndex func(ci uint64) bool
	}{
		{"nothing committed", Config{CommitInterval: time.Hour, CommitLimit: 1 << 20}, 0,
			func(ci uint64) bool { return ci == 0 }},
		{"force commit after a grant-only txn", Config{CommitInterval: time.Hour, CommitLimit: 1 << 20}, 18,
			func(ci uint64) bool { return ci == 18 }},
		{"force commit after a checkpoint-only txn", Config{CommitInterval: time.Hour, CommitLimit: 1 << 20}, 20,
			func(ci uint64) bool { return ci == 20 }},
		{"force commit after a revoke", Config{CommitInterval: time.Hour, CommitLimit: 1 << 20}, 21,
			func(ci uint64) bool { return ci == 21 }},
		{"commit limit back-pressure", Config{CommitInterval: time.Hour, CommitLimit: 3}, 0,
			func(ci uint64) bool { return ci > 0 && ci <= total }},
		{"background committer", Config{CommitInterval: time.Millisecond}, 0,
			func(ci uint64) bool { return ci <= total }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openStore(t, tc.cfg)
			for i := uint64(1); i <= total; i++ {
				applyLeaseScripted(s, i)
				if i == tc.forceAt {
					require.NoError(t, s.ForceCommit())
				}
			}
			s.crash()

			s2 := reopen(t, path, Config{})
			ci := s2.ConsistentIndex()
			require.True(t, tc.wantIndex(ci), "consistent index %d", ci)
			// Durable leases, attachments and checkpoints are exactly the
			// state after index ci: no lease change without its index.
			require.Equal(t, referenceLeaseView(t, ci), viewOf(t, s2))
			// Replaying the log above ci converges to the full state.
			for i := ci + 1; i <= total; i++ {
				applyLeaseScripted(s2, i)
			}
			require.Equal(t, referenceLeaseView(t, total), viewOf(t, s2))
		})
	}
}

func TestLeaseSnapshotRestore(t *testing.T) {
	src, _ := openStore(t, Config{})
	for i := uint64(1); i <= 50; i++ {
		applyLeaseScripted(src, i)
	}
	want := viewOf(t, src)
	snap, ci := snapshotBytes(t, src)
	require.EqualValues(t, 50, ci)

	dst, path := openStore(t, Config{})
	grant(t, dst, 1, 99, 1) // replaced by the restore
	putLease(t, dst, 2, 1, "stale")
	require.NoError(t, dst.Restore(bytes.NewReader(snap)))
	require.Equal(t, want, viewOf(t, dst))
	_, ok := dst.Lease(99)
	require.False(t, ok)
	require.EqualValues(t, 50, dst.ConsistentIndex())

	for i := uint64(51); i <= 60; i++ {
		applyLeaseScripted(src, i)
		applyLeaseScripted(dst, i)
	}
	want = viewOf(t, src)
	require.Equal(t, want, viewOf(t, dst))
	require.NoError(t, dst.Close())
	require.Equal(t, want, viewOf(t, reopen(t, path, Config{})))
}

func TestLeaseHashCoversRecords(t *testing.T) {
	hashAfter := func(fn func(tx *TxnWrite)) uint32 {
		s, _ := openStore(t, Config{})
		putKVs(t, s, 1, "a", "1")
		inTxn(t, s, 2, fn)
		h, _, err := s.Hash()
		require.NoError(t, err)
		return h
	}
	base := hashAfter(func(*TxnWrite) {})
	g := func(id, ttl int64) func(tx *TxnWrite) {
		return func(tx *TxnWrite) { require.NoError(t, tx.GrantLease(id, ttl)) }
	}
	seen := map[uint32]string{base: "no lease"}
	for _, tc := range []struct {
		name string
		fn   func(tx *TxnWrite)
	}{
		{"lease 1 ttl 10", g(1, 10)},
		{"lease 2 ttl 10", g(2, 10)},
		{"lease 1 ttl 11", g(1, 11)},
		{"lease 1 ttl 10 checkpointed", func(tx *TxnWrite) {
			g(1, 10)(tx)
			require.NoError(t, tx.CheckpointLease(1, 500))
		}},
	} {
		h := hashAfter(tc.fn)
		require.NotContains(t, seen, h, "%s hashes like %s", tc.name, seen[h])
		seen[h] = tc.name
		require.Equal(t, h, hashAfter(tc.fn), "%s: deterministic", tc.name)
	}
}

// v1File builds a pre-lease (schema v1) database holding key k with lease
// 3 at revision 2 and consistent index 7.
func v1File(tb testing.TB) []byte {
	tb.Helper()
	return boltFile(tb, func(tx *bolt.Tx) error {
		kb, err := tx.CreateBucket(bucketKey)
		if err != nil {
			return err
		}
		mb, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return errors.Join(
			mb.Put(metaSchema, schemaV1),
			mb.Put(metaConsistentIndex, u64Bytes(7)),
			kb.Put(revToBytes(revision{2, 0}, false), encodeKeyValue(kvOf("k", "v", 2, 2, 1, 3))),
		)
	})
}

func TestLeaseSchemaV1Upgrade(t *testing.T) {
	check := func(t *testing.T, s *Store, path string) {
		require.Equal(t, []string{"k"}, strs(s.LeaseKeys(3)), "attachments rebuilt from a v1 file")
		require.Empty(t, s.Leases())
		require.EqualValues(t, 7, s.ConsistentIndex())
		grant(t, s, 8, 3, 10)
		require.NoError(t, s.Close())
		s2 := reopen(t, path, Config{})
		require.Equal(t, []LeaseRecord{{ID: 3, TTL: 10}}, s2.Leases())
		require.NoError(t, s2.Close())
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		require.NoError(t, err)
		defer func() { require.NoError(t, db.Close()) }()
		require.NoError(t, db.View(func(tx *bolt.Tx) error {
			require.Equal(t, schemaV2, tx.Bucket(bucketMeta).Get(metaSchema))
			return nil
		}))
	}
	t.Run("open", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "v1.db")
		require.NoError(t, os.WriteFile(path, v1File(t), 0o600))
		check(t, reopen(t, path, Config{}), path)
	})
	t.Run("restore", func(t *testing.T) {
		s, path := openStore(t, Config{})
		require.NoError(t, s.Restore(bytes.NewReader(v1File(t))))
		check(t, s, path)
	})
}

func TestRestoreCorruptLeaseBucket(t *testing.T) {
	for _, tc := range []struct {
		name string
		fill func(lb *bolt.Bucket) error
	}{
		{"bad record", func(lb *bolt.Bucket) error { return lb.Put(leaseKey(1), []byte{leaseFormatV1, 0}) }},
		{"bad key", func(lb *bolt.Bucket) error {
			return lb.Put([]byte{1}, encodeLeaseValue(LeaseRecord{ID: 1, TTL: 1}))
		}},
		{"nested bucket", func(lb *bolt.Bucket) error {
			_, err := lb.CreateBucket(leaseKey(1))
			return err
		}},
		{"missing lease bucket", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := boltFile(t, func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket(bucketKey)
				if err != nil {
					return err
				}
				mb, err := tx.CreateBucket(bucketMeta)
				if err != nil {
					return err
				}
				if err := mb.Put(metaSchema, schemaV2); err != nil {
					return err
				}
				if tc.fill == nil {
					return nil
				}
				lb, err := tx.CreateBucket(bucketLease)
				if err != nil {
					return err
				}
				return tc.fill(lb)
			})
			s, _ := openStore(t, Config{})
			grant(t, s, 1, 5, 10)
			require.ErrorIs(t, s.Restore(bytes.NewReader(snap)), ErrCorruptSnapshot)
			require.Equal(t, []LeaseRecord{{ID: 5, TTL: 10}}, s.Leases(), "old state kept")
			require.NoError(t, s.Err())
		})
	}
}
