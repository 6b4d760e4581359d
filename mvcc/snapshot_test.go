package mvcc

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// snapshotBytes takes a snapshot of s and returns its stream.
func snapshotBytes(tb testing.TB, s *Store) ([]byte, uint64) {
	tb.Helper()
	b, size, ci := snapshotStream(tb, s, (*Snapshot).WriteTo)
	require.EqualValues(tb, size, len(b))
	return b, ci
}

// snapshotStream takes a snapshot of s and returns what write writes of
// it (checking that write reports its length), the snapshot's Size and
// its consistent index.
func snapshotStream(tb testing.TB, s *Store, write func(*Snapshot, io.Writer) (int64, error)) (b []byte, size int64, ci uint64) {
	tb.Helper()
	sn, err := s.Snapshot()
	require.NoError(tb, err)
	defer func() { require.NoError(tb, sn.Close()) }()
	var buf bytes.Buffer
	n, err := write(sn, &buf)
	require.NoError(tb, err)
	require.EqualValues(tb, buf.Len(), n)
	return buf.Bytes(), sn.Size(), sn.ConsistentIndex()
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	src, _ := openStore(t, Config{})
	for i := uint64(1); i <= 25; i++ {
		applyScripted(src, i)
	}
	wantHash, wantRev, err := src.Hash()
	require.NoError(t, err)
	wantOld := rangeOK(t, src, "\x00", "\x00", RangeOptions{Rev: 7})

	// The snapshot is a consistent view: later writes are not in it.
	sn, err := src.Snapshot()
	require.NoError(t, err)
	require.EqualValues(t, 25, sn.ConsistentIndex())
	for i := uint64(26); i <= 30; i++ {
		applyScripted(src, i)
	}
	var buf bytes.Buffer
	_, err = sn.WriteTo(&buf)
	require.NoError(t, err)
	require.NoError(t, sn.Close())
	require.NoError(t, sn.Close(), "Snapshot.Close is idempotent")

	dst, path := openStore(t, Config{})
	putKVs(t, dst, 1, "other", "state") // replaced by the restore
	require.NoError(t, dst.Restore(&buf))
	h, rev, err := dst.Hash()
	require.NoError(t, err)
	require.Equal(t, wantHash, h)
	require.Equal(t, wantRev, rev)
	require.Equal(t, wantRev, dst.Rev())
	require.EqualValues(t, 25, dst.ConsistentIndex())
	require.Equal(t, wantOld, rangeOK(t, dst, "\x00", "\x00", RangeOptions{Rev: 7}))
	require.Empty(t, rangeOK(t, dst, "other", "", RangeOptions{}).KVs)

	// The restored store keeps working and converges with the source.
	for i := uint64(26); i <= 30; i++ {
		applyScripted(dst, i)
	}
	srcHash, _, err := src.Hash()
	require.NoError(t, err)
	h, _, err = dst.Hash()
	require.NoError(t, err)
	require.Equal(t, srcHash, h)
	require.NoError(t, dst.Close())
	again := reopen(t, path, Config{})
	h, _, err = again.Hash()
	require.NoError(t, err)
	require.Equal(t, srcHash, h)
	requireNoTempFiles(t, filepath.Dir(path))
}

func requireNoTempFiles(tb testing.TB, dir string) {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err)
	for _, e := range entries {
		require.NotContains(tb, e.Name(), ".restore-", "temp file left behind")
	}
}

func TestRestoreInvalidKeepsOldState(t *testing.T) {
	good, _ := func() ([]byte, uint64) {
		s, _ := openStore(t, Config{})
		for i := uint64(1); i <= 10; i++ {
			applyScripted(s, i)
		}
		return snapshotBytes(t, s)
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}

	for _, tc := range []struct {
		name  string
		input func(tb testing.TB) []byte
	}{
		{"empty", func(testing.TB) []byte { return nil }},
		{"random bytes", func(testing.TB) []byte { return garbage }},
		{"truncated snapshot", func(testing.TB) []byte { return good[:len(good)/2] }},
		{"only the first page", func(testing.TB) []byte { return good[:4096] }},
		{"bbolt without our buckets", func(tb testing.TB) []byte {
			return boltFile(tb, func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("other"))
				return err
			})
		}},
		{"bbolt with a corrupt record", func(tb testing.TB) []byte {
			return boltFile(tb, func(tx *bolt.Tx) error {
				kb, err := tx.CreateBucket(bucketKey)
				if err != nil {
					return err
				}
				mb, err := tx.CreateBucket(bucketMeta)
				if err != nil {
					return err
				}
				if err := mb.Put(metaSchema, schemaV1); err != nil {
					return err
				}
				return kb.Put(revToBytes(revision{2, 0}, false), []byte{kvFormatV1, 9})
			})
		}},
		{"bbolt with a tombstone for a missing key", func(tb testing.TB) []byte {
			return boltFile(tb, func(tx *bolt.Tx) error {
				kb, err := tx.CreateBucket(bucketKey)
				if err != nil {
					return err
				}
				mb, err := tx.CreateBucket(bucketMeta)
				if err != nil {
					return err
				}
				if err := mb.Put(metaSchema, schemaV1); err != nil {
					return err
				}
				return kb.Put(revToBytes(revision{2, 0}, true), encodeKeyValue(&KeyValue{Key: []byte("k")}))
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openStore(t, Config{})
			putKVs(t, s, 3, "a", "1", "b", "2")
			putKVs(t, s, 4, "a", "3")
			wantHash, wantRev, err := s.Hash()
			require.NoError(t, err)

			err = s.Restore(bytes.NewReader(tc.input(t)))
			require.ErrorIs(t, err, ErrCorruptSnapshot)

			h, rev, err := s.Hash()
			require.NoError(t, err)
			require.Equal(t, wantHash, h)
			require.Equal(t, wantRev, rev)
			require.EqualValues(t, 4, s.ConsistentIndex())
			require.NoError(t, s.Err())
			putKVs(t, s, 5, "c", "4")
			require.Equal(t, []string{"a", "b", "c"}, keysOf(rangeOK(t, s, "a", "z", RangeOptions{}).KVs))
			requireNoTempFiles(t, filepath.Dir(path))
			require.NoError(t, s.Close())
			s2 := reopen(t, path, Config{})
			require.EqualValues(t, 5, s2.ConsistentIndex())
		})
	}
}

// boltFile builds a bbolt file with fn and returns its bytes.
func boltFile(tb testing.TB, fn func(tx *bolt.Tx) error) []byte {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "other.db")
	db, err := bolt.Open(p, 0o600, nil)
	require.NoError(tb, err)
	require.NoError(tb, db.Update(fn))
	require.NoError(tb, db.Close())
	b, err := os.ReadFile(p)
	require.NoError(tb, err)
	return b
}

// TestRestoreWhileSnapshotOpen: Restore must not wait for an open Snapshot
// (raft keeps one open while it persists it, and may wait on the caller of
// Restore: a follower that installs a leader's snapshot while taking its
// own deadlocked). The open Snapshot keeps reading the replaced state.
func TestRestoreWhileSnapshotOpen(t *testing.T) {
	src, _ := openStore(t, Config{})
	for i := uint64(1); i <= 10; i++ {
		applyScripted(src, i)
	}
	incoming, _ := snapshotBytes(t, src)

	dst, _ := openStore(t, Config{})
	putKVs(t, dst, 1, "old", "state")
	oldView, err := dst.Snapshot()
	require.NoError(t, err)
	var oldBytes bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- dst.Restore(bytes.NewReader(incoming)) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Restore waited for an open Snapshot")
	}
	require.EqualValues(t, 10, dst.ConsistentIndex())
	require.Empty(t, rangeOK(t, dst, "old", "", RangeOptions{}).KVs)

	// The old view still streams the old database, which restores fine.
	_, err = oldView.WriteTo(&oldBytes)
	require.NoError(t, err)
	require.NoError(t, oldView.Close())
	check, _ := openStore(t, Config{})
	require.NoError(t, check.Restore(&oldBytes))
	require.Len(t, rangeOK(t, check, "old", "", RangeOptions{}).KVs, 1)
	require.NoError(t, dst.Close())
}
