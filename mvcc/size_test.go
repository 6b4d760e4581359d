package mvcc

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSize checks that Size follows commits: puts grow the database and
// its in-use part, and compaction lowers the part in use (bbolt's free
// pages are not in use) while the size stays, also across a reopen.
func TestSize(t *testing.T) {
	s, path := openStore(t, Config{CommitInterval: time.Hour, CommitLimit: 1 << 20})
	size0, inUse0 := s.Size()
	require.Positive(t, size0)
	require.Positive(t, inUse0)
	require.LessOrEqual(t, inUse0, size0)

	// Ten keys overwritten twenty times with 8 KiB values: 200 records,
	// of which compaction keeps the newest ten.
	val := bytes.Repeat([]byte{'v'}, 8<<10)
	idx := uint64(0)
	for range 20 {
		tx := s.Write(idx + 1)
		idx++
		for k := range 10 {
			tx.Put([]byte(fmt.Sprintf("k%02d", k)), val, 0)
		}
		tx.End()
	}
	sizeUncommitted, _ := s.Size()
	require.Equal(t, size0, sizeUncommitted, "Size reports the latest commit")
	require.NoError(t, s.ForceCommit())
	size1, inUse1 := s.Size()
	require.Greater(t, inUse1, int64(200*len(val)), "every record is in use")
	require.LessOrEqual(t, inUse1, size1)

	tx := s.Write(idx + 1)
	done, err := tx.Compact(s.Rev())
	require.NoError(t, err)
	tx.End()
	<-done
	require.NoError(t, s.ForceCommit())
	size2, inUse2 := s.Size()
	require.GreaterOrEqual(t, size2, size1, "compaction does not shrink the file")
	require.Less(t, inUse2, inUse1/4, "compaction frees the pages of 190 of 200 records")
	require.Greater(t, inUse2, int64(10*len(val)), "the live records stay in use")

	require.NoError(t, s.Close())
	s2 := reopen(t, path, Config{})
	size3, inUse3 := s2.Size()
	require.Equal(t, size2, size3)
	require.Equal(t, inUse2, inUse3, "free pages count as free right after Open")
}
