package mvcc

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

var errTestCrash = errors.New("test crash")

func TestKeyIndexCompact(t *testing.T) {
	// put(2); put(3); del(4); put(5); put(5.1); del(6): the doc example.
	build := func() *keyIndex {
		ki := newKeyIndex([]byte("k"))
		require.NoError(t, ki.put(revision{main: 2}))
		require.NoError(t, ki.put(revision{main: 3}))
		require.NoError(t, ki.tombstone(revision{main: 4}))
		require.NoError(t, ki.put(revision{main: 5}))
		require.NoError(t, ki.put(revision{main: 5, sub: 1}))
		require.NoError(t, ki.tombstone(revision{main: 6}))
		return ki
	}
	for _, tc := range []struct {
		name      string
		at        int64
		wantRevs  [][]revision
		wantEmpty bool
	}{
		{"before history", 1, [][]revision{{{2, 0}, {3, 0}, {4, 0}}, {{5, 0}, {5, 1}, {6, 0}}, {}}, false},
		{"mid first generation", 3, [][]revision{{{3, 0}, {4, 0}}, {{5, 0}, {5, 1}, {6, 0}}, {}}, false},
		{"at a tombstone", 4, [][]revision{{{5, 0}, {5, 1}, {6, 0}}, {}}, false},
		{"mid second generation", 5, [][]revision{{{5, 1}, {6, 0}}, {}}, false},
		{"at the last tombstone", 6, [][]revision{{}}, true},
		{"after everything", 9, [][]revision{{}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ki := build()
			require.Equal(t, tc.wantEmpty, ki.compact(tc.at))
			var got [][]revision
			for _, g := range ki.generations {
				got = append(got, append([]revision{}, g.revs...))
			}
			require.Equal(t, tc.wantRevs, got)
			if !tc.wantEmpty {
				// Reads at or after the compaction revision are unchanged.
				ref := build()
				for rev := tc.at; rev <= 7; rev++ {
					m1, c1, v1, ok1 := ref.get(rev)
					m2, c2, v2, ok2 := ki.get(rev)
					require.Equal(t, []any{m1, c1.main, v1, ok1}, []any{m2, c2.main, v2, ok2}, "get(%d)", rev)
				}
			}
		})
	}
}

// compactFixture: a (2), b (3), a (4), del b (5), c (6), a (7).
func compactFixture(tb testing.TB, cfg Config) (*Store, string) {
	tb.Helper()
	s, path := openStore(tb, cfg)
	putKVs(tb, s, 1, "a", "1")
	putKVs(tb, s, 2, "b", "1")
	putKVs(tb, s, 3, "a", "2")
	deleteRange(tb, s, 4, "b", "")
	putKVs(tb, s, 5, "c", "1")
	putKVs(tb, s, 6, "a", "3")
	return s, path
}

func TestCompactErrorsAndReads(t *testing.T) {
	s, _ := compactFixture(t, Config{})
	for _, tc := range []struct {
		name    string
		rev     int64
		wantErr error
	}{
		{"future", 8, ErrFutureRev},
		{"zero", 0, ErrCompacted},
		{"ok", 4, nil},
		{"same again", 4, ErrCompacted},
		{"below", 3, ErrCompacted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx := s.Write(10)
			_, err := tx.Compact(tc.rev)
			tx.End()
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.rev, s.CompactRev())
		})
	}
	require.EqualValues(t, 7, s.Rev(), "compaction does not change the revision")
	_, err := s.Range([]byte("a"), nil, RangeOptions{Rev: 3})
	require.ErrorIs(t, err, ErrCompacted)
	res := rangeOK(t, s, "\x00", "\x00", RangeOptions{Rev: 4})
	require.Equal(t, []*KeyValue{kvOf("a", "2", 2, 4, 2, 0), kvOf("b", "1", 3, 3, 1, 0)}, res.KVs)
	res = rangeOK(t, s, "\x00", "\x00", RangeOptions{})
	require.Equal(t, []*KeyValue{kvOf("a", "3", 2, 7, 3, 0), kvOf("c", "1", 6, 6, 1, 0)}, res.KVs)
	// A put after compaction keeps counting versions.
	putKVs(t, s, 11, "a", "4")
	require.Equal(t, []*KeyValue{kvOf("a", "4", 2, 8, 4, 0)}, rangeOK(t, s, "a", "", RangeOptions{}).KVs)
}

// boltRevs lists the revisions stored in the key bucket.
func boltRevs(tb testing.TB, s *Store) []int64 {
	tb.Helper()
	var out []int64
	s.mu.RLock()
	defer s.mu.RUnlock()
	require.NoError(tb, s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKey).ForEach(func(k, _ []byte) error {
			r, _, err := bytesToRev(k)
			out = append(out, r.main)
			return err
		})
	}))
	return out
}

func TestCompactPhysical(t *testing.T) {
	s, path := compactFixture(t, Config{CompactBatchLimit: 1, CompactBatchInterval: time.Millisecond})
	h0, _, err := s.Hash()
	require.NoError(t, err)
	tx := s.Write(10)
	done, err := tx.Compact(5)
	require.NoError(t, err)
	h1, _, err := s.Hash()
	require.NoError(t, err)
	require.NotEqual(t, h0, h1, "the hash covers what reads can see")
	tx.End()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("physical compaction did not finish")
	}
	h2, _, err := s.Hash()
	require.NoError(t, err)
	require.Equal(t, h1, h2, "hash independent of physical progress")
	// Kept: a@4 (latest <= 5 of a), 5 (b's tombstone at the compaction
	// revision stays until a later compaction), 6, 7.
	require.Equal(t, []int64{4, 5, 6, 7}, boltRevs(t, s))

	require.NoError(t, s.Close())
	s2 := reopen(t, path, Config{})
	h3, rev, err := s2.Hash()
	require.NoError(t, err)
	require.Equal(t, h1, h3, "same hash after reopen")
	require.EqualValues(t, 7, rev)
	require.EqualValues(t, 5, s2.CompactRev())
	putKVs(t, s2, 11, "a", "4")
	require.Equal(t, []*KeyValue{kvOf("a", "4", 2, 8, 4, 0)}, rangeOK(t, s2, "a", "", RangeOptions{}).KVs)
}

func TestCompactResumesAfterRestart(t *testing.T) {
	// One record per batch and a pause of an hour: the deletion stops
	// after its first batch, and Close interrupts it.
	s, path := compactFixture(t, Config{CompactBatchLimit: 1, CompactBatchInterval: time.Hour})
	tx := s.Write(10)
	done, err := tx.Compact(7)
	require.NoError(t, err)
	tx.End()
	waitFor(t, "first batch", func() bool { return len(boltRevs(t, s)) < 7 })
	require.NoError(t, s.Close())
	<-done // closed by Close
	s2 := reopen(t, path, Config{CompactBatchInterval: time.Millisecond})
	require.EqualValues(t, 7, s2.CompactRev())
	waitFor(t, "resumed compaction", func() bool {
		s2.mu.RLock()
		defer s2.mu.RUnlock()
		return s2.finishedCompactRev == 7
	})
	require.Equal(t, []int64{6, 7}, boltRevs(t, s2))
	require.Equal(t, []*KeyValue{kvOf("a", "3", 2, 7, 3, 0), kvOf("c", "1", 6, 6, 1, 0)},
		rangeOK(t, s2, "\x00", "\x00", RangeOptions{Rev: 7}).KVs)
}

func TestCompactRevSurvivesRestart(t *testing.T) {
	s, path := openStore(t, Config{})
	putKVs(t, s, 1, "a", "1")
	deleteRange(t, s, 2, "a", "") // rev 3
	compact(t, s, 3, 3)
	require.Equal(t, []int64{3}, boltRevs(t, s), "only the tombstone at the compaction revision is left")
	require.NoError(t, s.Close())
	s2 := reopen(t, path, Config{})
	require.EqualValues(t, 3, s2.Rev(), "revision survives when every key was compacted")
	require.EqualValues(t, 3, s2.CompactRev())
	require.EqualValues(t, 3, s2.ConsistentIndex())
	putKVs(t, s2, 4, "a", "2")
	require.EqualValues(t, 4, s2.Rev())
}

// TestCompactPersistedWithConsistentIndex: a crash before the commit that
// covers the compacting txn loses both (the raft log replays it); after it,
// both survive.
func TestCompactPersistedWithConsistentIndex(t *testing.T) {
	for _, tc := range []struct {
		name       string
		commit     bool
		wantCI     uint64
		wantCompct int64
	}{
		{"crash before commit", false, 6, 0},
		{"crash after commit", true, 10, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := compactFixture(t, Config{CommitInterval: time.Hour, CompactBatchInterval: time.Hour})
			require.NoError(t, s.ForceCommit())
			tx := s.Write(10)
			_, err := tx.Compact(5)
			require.NoError(t, err)
			if tc.commit {
				tx.End()
				require.NoError(t, s.ForceCommit())
			} else {
				s.fail(errTestCrash) // no commit can happen any more, as in a crash
				tx.End()
			}
			s.crash()
			s2 := reopen(t, path, Config{})
			require.Equal(t, tc.wantCI, s2.ConsistentIndex())
			require.Equal(t, tc.wantCompct, s2.CompactRev())
		})
	}
}

// TestCompactRemovesOlderGenerations: a record that was live at an earlier
// compaction, and whose key is deleted afterwards, is removed by the next
// compaction past the delete, however old it is.
func TestCompactRemovesOlderGenerations(t *testing.T) {
	s, _ := openStore(t, Config{})
	compactTo := func(index uint64) {
		tx := s.Write(index)
		done, err := tx.Compact(s.Rev())
		require.NoError(t, err)
		tx.End()
		waitDone(t, done, "physical compaction")
	}
	putKVs(t, s, 1, "a", "1")     // 2
	putKVs(t, s, 2, "b", "1")     // 3
	compactTo(3)                  // at 3: a@2 and b@3 are live
	deleteRange(t, s, 4, "a", "") // 4
	putKVs(t, s, 5, "c", "1")     // 5
	compactTo(6)                  // at 5: a's generation is gone
	require.Equal(t, []int64{3, 5}, boltRevs(t, s))
}

// waitDone waits for ch with a generous bound.
func waitDone(tb testing.TB, ch <-chan struct{}, what string) {
	tb.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		tb.Fatalf("%s did not finish", what)
	}
}
