package mvcc

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestRevisionArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name    string
		run     func(tb testing.TB, s *Store)
		wantRev int64
	}{
		{"empty store", func(testing.TB, *Store) {}, 1},
		{"one put gets revision 2", func(tb testing.TB, s *Store) { putKVs(tb, s, 1, "a", "1") }, 2},
		{"three puts in one txn share a revision", func(tb testing.TB, s *Store) {
			putKVs(tb, s, 1, "a", "1", "b", "2", "c", "3")
		}, 2},
		{"each txn bumps once", func(tb testing.TB, s *Store) {
			putKVs(tb, s, 1, "a", "1")
			putKVs(tb, s, 2, "a", "2")
			putKVs(tb, s, 3, "b", "1")
		}, 4},
		{"delete of nothing does not bump", func(tb testing.TB, s *Store) {
			putKVs(tb, s, 1, "a", "1")
			n, evs := deleteRange(tb, s, 2, "x", "")
			require.Zero(tb, n)
			require.Empty(tb, evs)
		}, 2},
		{"read-only txn does not bump", func(tb testing.TB, s *Store) {
			tx := s.Write(1)
			_, err := tx.Range([]byte("a"), nil, RangeOptions{})
			require.NoError(tb, err)
			require.Empty(tb, tx.End())
		}, 1},
		{"empty txn does not bump", func(tb testing.TB, s *Store) { s.Write(1).End() }, 1},
		{"delete of a deleted key does not bump", func(tb testing.TB, s *Store) {
			putKVs(tb, s, 1, "a", "1")
			deleteRange(tb, s, 2, "a", "")
			n, _ := deleteRange(tb, s, 3, "a", "")
			require.Zero(tb, n)
		}, 3},
		{"range delete of three keys is one revision", func(tb testing.TB, s *Store) {
			putKVs(tb, s, 1, "a", "1", "b", "2", "c", "3")
			n, _ := deleteRange(tb, s, 2, "a", "z")
			require.EqualValues(tb, 3, n)
		}, 3},
		{"put and delete in one txn", func(tb testing.TB, s *Store) {
			tx := s.Write(1)
			tx.Put([]byte("a"), []byte("1"), 0)
			require.EqualValues(tb, 1, tx.DeleteRange([]byte("a"), nil))
			require.Len(tb, tx.End(), 2)
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t, Config{})
			tc.run(t, s)
			require.Equal(t, tc.wantRev, s.Rev())
			tx := s.Write(99)
			require.Equal(t, tc.wantRev+1, tx.Rev())
			tx.End()
		})
	}
}

func TestVersionsAcrossDeleteRecreate(t *testing.T) {
	s, _ := openStore(t, Config{})
	putKVs(t, s, 1, "k", "v1")    // rev 2: create
	putKVs(t, s, 2, "k", "v2")    // rev 3
	deleteRange(t, s, 3, "k", "") // rev 4
	putKVs(t, s, 4, "k", "v3")    // rev 5: re-create
	tx := s.Write(5)              // rev 6: two puts in one txn
	tx.Put([]byte("k"), []byte("v4"), 7)
	tx.Put([]byte("k"), []byte("v5"), 8)
	tx.End()

	for _, tc := range []struct {
		name string
		rev  int64
		want *KeyValue // nil: absent
	}{
		{"before creation", 1, nil},
		{"first put", 2, kvOf("k", "v1", 2, 2, 1, 0)},
		{"second put", 3, kvOf("k", "v2", 2, 3, 2, 0)},
		{"deleted", 4, nil},
		{"re-created starts at version 1", 5, kvOf("k", "v3", 5, 5, 1, 0)},
		{"two puts in one txn: last wins, version counts both", 6, kvOf("k", "v5", 5, 6, 3, 8)},
		{"latest", 0, kvOf("k", "v5", 5, 6, 3, 8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rangeOK(t, s, "k", "", RangeOptions{Rev: tc.rev})
			if tc.want == nil {
				require.Empty(t, res.KVs)
				require.Zero(t, res.Count)
				return
			}
			require.Equal(t, []*KeyValue{tc.want}, res.KVs)
			require.EqualValues(t, 1, res.Count)
			require.EqualValues(t, 6, res.Rev, "Rev is the current revision, not the requested one")
		})
	}
}

func TestTxnSubRevisionsOnDisk(t *testing.T) {
	s, path := openStore(t, Config{})
	putKVs(t, s, 1, "a", "0")
	tx := s.Write(2)
	tx.Put([]byte("b"), []byte("1"), 0)
	tx.Put([]byte("c"), []byte("2"), 0)
	tx.DeleteRange([]byte("a"), nil)
	evs := tx.End()
	for _, ev := range evs {
		require.EqualValues(t, 3, ev.Kv.ModRevision, "all events of a txn share its revision")
	}
	require.NoError(t, s.Close())

	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	var got [][]byte
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKey).ForEach(func(k, _ []byte) error {
			got = append(got, append([]byte(nil), k...))
			return nil
		})
	}))
	want := [][]byte{
		revToBytes(revision{2, 0}, false),
		revToBytes(revision{3, 0}, false),
		revToBytes(revision{3, 1}, false),
		revToBytes(revision{3, 2}, true),
	}
	require.Equal(t, want, got)
	require.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 3, '_', 0, 0, 0, 0, 0, 0, 0, 2, 't'}, got[3], "etcd's revision key encoding")
}

func TestEventsWithPrevKv(t *testing.T) {
	s, _ := openStore(t, Config{})
	putKVs(t, s, 1, "a", "1", "b", "1") // rev 2
	tx := s.Write(2)                    // rev 3
	tx.Put([]byte("a"), []byte("2"), 5)
	tx.Put([]byte("new"), []byte("x"), 0)
	require.EqualValues(t, 2, tx.DeleteRange([]byte("a"), []byte("c")))
	evs := tx.End()

	want := []Event{
		{Type: EventTypePut, Kv: kvOf("a", "2", 2, 3, 2, 5), PrevKv: kvOf("a", "1", 2, 2, 1, 0)},
		{Type: EventTypePut, Kv: kvOf("new", "x", 3, 3, 1, 0)},
		{Type: EventTypeDelete, Kv: &KeyValue{Key: []byte("a"), ModRevision: 3}, PrevKv: kvOf("a", "2", 2, 3, 2, 5)},
		{Type: EventTypeDelete, Kv: &KeyValue{Key: []byte("b"), ModRevision: 3}, PrevKv: kvOf("b", "1", 2, 2, 1, 0)},
	}
	require.Equal(t, want, evs)
	for i, ev := range evs {
		t.Run(want[i].Type.String()+"_"+string(want[i].Kv.Key), func(t *testing.T) {
			require.Equal(t, want[i].Type, ev.Type)
		})
	}
	// Events are copies: mutating them does not change the store.
	evs[0].Kv.Value[0] = 'X'
	res := rangeOK(t, s, "new", "", RangeOptions{})
	require.Equal(t, "x", string(res.KVs[0].Value))
}

func TestTxnRangeSeesOwnWrites(t *testing.T) {
	s, _ := openStore(t, Config{})
	putKVs(t, s, 1, "a", "1", "b", "1") // rev 2
	tx := s.Write(2)

	for _, step := range []struct {
		name      string
		do        func()
		wantKeys  []string
		wantRev   int64
		outsideAB []string // what a concurrent store reader sees meanwhile
	}{
		{"before changes reads beginRev", func() {}, []string{"a", "b"}, 2, []string{"a", "b"}},
		{"sees own put", func() { tx.Put([]byte("c"), []byte("1"), 0) }, []string{"a", "b", "c"}, 3, []string{"a", "b"}},
		{"sees own delete", func() { tx.DeleteRange([]byte("a"), nil) }, []string{"b", "c"}, 3, []string{"a", "b"}},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.do()
			res, err := tx.Range([]byte("a"), []byte("z"), RangeOptions{})
			require.NoError(t, err)
			require.Equal(t, step.wantKeys, keysOf(res.KVs))
			require.Equal(t, step.wantRev, res.Rev)
			_, err = tx.Range([]byte("a"), nil, RangeOptions{Rev: step.wantRev + 1})
			require.ErrorIs(t, err, ErrFutureRev)
			out := rangeOK(t, s, "a", "z", RangeOptions{})
			require.Equal(t, step.outsideAB, keysOf(out.KVs), "other readers do not see the open txn")
		})
	}
	tx.End()
	require.Equal(t, []string{"b", "c"}, keysOf(rangeOK(t, s, "a", "z", RangeOptions{}).KVs))
}

func TestClosedStore(t *testing.T) {
	s, _ := openStore(t, Config{})
	putKVs(t, s, 1, "a", "1")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	_, err := s.Range([]byte("a"), nil, RangeOptions{})
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, s.ForceCommit(), ErrClosed)
	_, err = s.Snapshot()
	require.ErrorIs(t, err, ErrClosed)
	_, _, err = s.Hash()
	require.ErrorIs(t, err, ErrClosed)
	tx := s.Write(2)
	tx.Put([]byte("b"), []byte("1"), 0)
	require.Zero(t, tx.DeleteRange([]byte("a"), nil))
	_, err = tx.Range([]byte("a"), nil, RangeOptions{})
	require.ErrorIs(t, err, ErrClosed)
	require.Nil(t, tx.End())
	require.EqualValues(t, 2, s.Rev())
}

func TestOpenInvalid(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		path    func(tb testing.TB) string
		wantErr error
	}{
		{"negative commit limit", Config{CommitLimit: -1}, func(tb testing.TB) string { return tb.TempDir() + "/db" }, ErrInvalidConfig},
		{"foreign bbolt file", Config{}, func(tb testing.TB) string {
			p := tb.TempDir() + "/db"
			db, err := bolt.Open(p, 0o600, nil)
			require.NoError(tb, err)
			require.NoError(tb, db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket(bucketKey)
				if err != nil {
					return err
				}
				return b.Put([]byte("x"), []byte("y"))
			}))
			require.NoError(tb, db.Close())
			return p
		}, ErrCorruptSnapshot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path(t), tc.cfg)
			require.ErrorIs(t, err, tc.wantErr)
			require.Nil(t, s)
		})
	}
}

// TestSyncDir covers the helper with which Open (after creating the
// database file) and Restore (after renaming the restored file over it)
// fsync the database's directory.
func TestSyncDir(t *testing.T) {
	require.NoError(t, syncDir(t.TempDir()))
	require.Error(t, syncDir(filepath.Join(t.TempDir(), "missing")))
}

// TestOpenFsyncsDirectory shows that Open fsyncs the directory it creates
// the database in: in a directory it may write but not read (so not open
// to fsync), bbolt creates the file and Open then fails.
func TestOpenFsyncsDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any directory")
	}
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o300))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	s, err := Open(filepath.Join(dir, "db"), Config{})
	require.ErrorContains(t, err, "fsync directory")
	require.Nil(t, s)
	s, err = Open(filepath.Join(dir, "db"), Config{noSync: true})
	require.NoError(t, err, "without fsyncs (tests only) the same Open works")
	require.NoError(t, s.Close())
}

func TestUseAfterEndPanics(t *testing.T) {
	s, _ := openStore(t, Config{})
	tx := s.Write(1)
	tx.End()
	require.PanicsWithValue(t, "mvcc: TxnWrite used after End", func() { tx.Put([]byte("a"), nil, 0) })
}

// TestPacedCommitWritesEverything checks that the background committer's
// paced commit (it pauses every commitPace records) writes every pending
// record and the consistent index: after it, a crash loses nothing.
func TestPacedCommitWritesEverything(t *testing.T) {
	tests := []struct {
		name     string
		records  int           // records in the commit
		interval time.Duration // CommitInterval: a quarter of it is the pausing budget
	}{
		{name: "below the pace", records: commitPace - 1, interval: time.Hour},
		{name: "exactly the pace", records: commitPace, interval: time.Hour},
		{name: "several paces and a rest", records: 3*commitPace + 5, interval: time.Hour},
		// The committer also runs here, and the budget (250 µs) runs out.
		{name: "budget spent", records: 40 * commitPace, interval: time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openStore(t, Config{CommitInterval: tt.interval})
			// One txn with many changes, then one change per txn.
			first := s.Write(1)
			for i := range tt.records / 2 {
				first.Put(fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "v%d", i), 0)
			}
			first.End()
			index := uint64(1)
			for i := tt.records / 2; i < tt.records; i++ {
				index++
				putKVs(t, s, index, fmt.Sprintf("k%04d", i), fmt.Sprintf("v%d", i))
			}
			require.NoError(t, s.commitPaced(true))
			s.crash()

			s2 := reopen(t, path, Config{})
			require.Equal(t, index, s2.ConsistentIndex())
			res, err := s2.Range([]byte("k"), []byte("l"), RangeOptions{})
			require.NoError(t, err)
			require.Len(t, res.KVs, tt.records)
			for i, kv := range res.KVs {
				require.Equal(t, fmt.Sprintf("k%04d", i), string(kv.Key))
				require.Equal(t, fmt.Sprintf("v%d", i), string(kv.Value))
			}
		})
	}
}
