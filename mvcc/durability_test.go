package mvcc

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// applyScripted applies the deterministic txn for raft index i: mostly puts,
// with deletes, multi-op txns and no-op txns mixed in.
func applyScripted(s *Store, i uint64) {
	t := s.Write(i)
	switch i % 5 {
	case 0:
		t.DeleteRange([]byte(fmt.Sprintf("k%d", (i/5)%7)), nil)
	case 1:
		t.Put([]byte(fmt.Sprintf("k%d", i%7)), []byte(fmt.Sprintf("v%d", i)), int64(i%3))
		t.Put([]byte(fmt.Sprintf("k%d", (i+3)%7)), []byte(fmt.Sprintf("w%d", i)), 0)
	case 2:
		t.DeleteRange([]byte("zz"), nil) // matches nothing: no change
	case 3:
		t.DeleteRange([]byte("k2"), []byte("k4"))
		t.Put([]byte("k3"), []byte(fmt.Sprintf("x%d", i)), 0)
	default:
		t.Put([]byte(fmt.Sprintf("k%d", i%7)), []byte(fmt.Sprintf("v%d", i)), 0)
	}
	t.End()
}

// referenceHash returns Hash/Rev of a fresh store that applied indexes 1..n.
func referenceHash(tb testing.TB, n uint64) (uint32, int64) {
	tb.Helper()
	ref, _ := openStore(tb, Config{})
	for i := uint64(1); i <= n; i++ {
		applyScripted(ref, i)
	}
	h, rev, err := ref.Hash()
	require.NoError(tb, err)
	return h, rev
}

func TestCloseReopenRestoresEverything(t *testing.T) {
	s, path := openStore(t, Config{CommitInterval: time.Hour})
	for i := uint64(1); i <= 40; i++ {
		applyScripted(s, i)
	}
	wantHash, wantRev, err := s.Hash()
	require.NoError(t, err)
	wantAll := rangeOK(t, s, "\x00", "\x00", RangeOptions{})
	wantOld := rangeOK(t, s, "\x00", "\x00", RangeOptions{Rev: 10})
	require.NoError(t, s.Close())

	s2 := reopen(t, path, Config{})
	require.Equal(t, wantRev, s2.Rev())
	require.EqualValues(t, 40, s2.ConsistentIndex())
	h, rev, err := s2.Hash()
	require.NoError(t, err)
	require.Equal(t, wantHash, h)
	require.Equal(t, wantRev, rev)
	require.Equal(t, wantAll, rangeOK(t, s2, "\x00", "\x00", RangeOptions{}))
	require.Equal(t, wantOld, rangeOK(t, s2, "\x00", "\x00", RangeOptions{Rev: 10}))
	// Writing continues from the restored revision.
	applyScripted(s2, 41)
	_, refRev := referenceHash(t, 41)
	require.Equal(t, refRev, s2.Rev())
}

func TestCrashKeepsDataConsistentWithIndex(t *testing.T) {
	const total = 30
	for _, tc := range []struct {
		name      string
		cfg       Config
		forceAt   uint64 // ForceCommit after this index (0 = never)
		wantIndex func(ci uint64) bool
	}{
		{"nothing committed", Config{CommitInterval: time.Hour, CommitLimit: 1 << 20}, 0,
			func(ci uint64) bool { return ci == 0 }},
		{"force commit midway", Config{CommitInterval: time.Hour, CommitLimit: 1 << 20}, 17,
			func(ci uint64) bool { return ci == 17 }},
		{"commit limit back-pressure", Config{CommitInterval: time.Hour, CommitLimit: 4}, 0,
			func(ci uint64) bool { return ci > 0 && ci < total }},
		{"background committer", Config{CommitInterval: time.Millisecond}, 0,
			func(ci uint64) bool { return ci <= total }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openStore(t, tc.cfg)
			for i := uint64(1); i <= total; i++ {
				applyScripted(s, i)
				if i == tc.forceAt {
					require.NoError(t, s.ForceCommit())
				}
			}
			require.EqualValues(t, total, s.ConsistentIndex())
			s.crash()

			s2 := reopen(t, path, Config{})
			ci := s2.ConsistentIndex()
			require.True(t, tc.wantIndex(ci), "consistent index %d", ci)
			require.LessOrEqual(t, ci, uint64(total))
			// The durable data is exactly the state after index ci.
			wantHash, wantRev := referenceHash(t, ci)
			h, rev, err := s2.Hash()
			require.NoError(t, err)
			require.Equal(t, wantRev, rev)
			require.Equal(t, wantHash, h)
			// Replaying the log above ci converges to the full state.
			for i := ci + 1; i <= total; i++ {
				applyScripted(s2, i)
			}
			fullHash, fullRev := referenceHash(t, total)
			h, rev, err = s2.Hash()
			require.NoError(t, err)
			require.Equal(t, fullRev, rev)
			require.Equal(t, fullHash, h)
		})
	}
}

func TestEmptyTxnAdvancesDurableIndex(t *testing.T) {
	s, path := openStore(t, Config{CommitInterval: time.Hour})
	putKVs(t, s, 5, "a", "1")
	s.Write(9).End() // no change, index still recorded
	require.EqualValues(t, 9, s.ConsistentIndex())
	require.EqualValues(t, 2, s.Rev())
	require.NoError(t, s.Close())
	s2 := reopen(t, path, Config{})
	require.EqualValues(t, 9, s2.ConsistentIndex())
	require.EqualValues(t, 2, s2.Rev())
}
