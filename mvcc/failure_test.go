package mvcc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCommitFailureFailStops(t *testing.T) {
	s, _ := openStore(t, Config{CommitInterval: time.Hour})
	putKVs(t, s, 1, "a", "1")
	// Pull the database out from under the store: the next commit fails.
	s.mu.Lock()
	s.dropReadTxLocked() // bbolt's Close waits for open read txns
	db := s.db
	s.mu.Unlock()
	require.NoError(t, db.Close())

	err := s.ForceCommit()
	require.ErrorIs(t, err, ErrFailed)
	require.ErrorIs(t, s.Err(), ErrFailed)

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Range", func() error { _, err := s.Range([]byte("a"), nil, RangeOptions{}); return err }},
		{"ForceCommit", s.ForceCommit},
		{"Snapshot", func() error { _, err := s.Snapshot(); return err }},
		{"Hash", func() error { _, _, err := s.Hash(); return err }},
		{"TxnWrite.Range", func() error {
			tx := s.Write(2)
			defer tx.End()
			_, err := tx.Range([]byte("a"), nil, RangeOptions{})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.call(), ErrFailed)
		})
	}
	// Writes still apply in memory (Write has no error return).
	putKVs(t, s, 3, "b", "2")
	require.EqualValues(t, 3, s.Rev())
	require.EqualValues(t, 3, s.ConsistentIndex())
	require.ErrorIs(t, s.Close(), ErrFailed)
}

func TestWriteIsExclusive(t *testing.T) {
	s, _ := openStore(t, Config{})
	tx := s.Write(1)
	second := make(chan int64)
	go func() {
		t2 := s.Write(2)
		second <- t2.Rev()
		t2.End()
	}()
	select {
	case <-second:
		t.Fatal("a second Write began while the first was open")
	case <-time.After(50 * time.Millisecond):
	}
	tx.Put([]byte("a"), []byte("1"), 0)
	tx.End()
	require.EqualValues(t, 3, <-second, "the second txn begins after the first ended")
}
