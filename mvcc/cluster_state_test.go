package mvcc

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// setState applies a txn at index i that sets the cluster state to "s<i>"
// and, when withKey, also puts a key.
func setState(s *Store, i uint64, withKey bool) {
	tx := s.Write(i)
	tx.SetClusterState([]byte(fmt.Sprintf("s%d", i)))
	if withKey {
		tx.Put([]byte("k"), []byte(fmt.Sprintf("v%d", i)), 0)
	}
	tx.End()
}

func TestClusterState(t *testing.T) {
	s, path := openStore(t, Config{CommitInterval: time.Hour, CommitLimit: 1 << 20})
	require.Nil(t, s.ClusterState())
	rev := s.Rev()
	setState(s, 1, false)
	require.Equal(t, "s1", string(s.ClusterState()))
	require.Equal(t, rev, s.Rev(), "the cluster state makes no revision")
	h1, _, err := s.Hash()
	require.NoError(t, err)
	setState(s, 2, false)
	h2, _, err := s.Hash()
	require.NoError(t, err)
	require.Equal(t, h1, h2, "the cluster state is not hashed")

	got := s.ClusterState()
	got[0] = 'X'
	require.Equal(t, "s2", string(s.ClusterState()), "ClusterState returns a copy")

	t.Run("crash keeps the state of the committed index", func(t *testing.T) {
		require.NoError(t, s.ForceCommit())
		setState(s, 3, true) // not committed
		s.crash()
		s2 := reopen(t, path, Config{CommitInterval: time.Hour})
		require.EqualValues(t, 2, s2.ConsistentIndex())
		require.Equal(t, "s2", string(s2.ClusterState()))
		setState(s2, 3, true)
		require.NoError(t, s2.Close())
		s3 := reopen(t, path, Config{})
		require.Equal(t, "s3", string(s3.ClusterState()))
	})
}

func TestClusterStateSnapshotRestore(t *testing.T) {
	src, _ := openStore(t, Config{})
	for i := uint64(1); i <= 5; i++ {
		setState(src, i, i%2 == 0)
	}
	snap, _ := snapshotBytes(t, src)

	dst, path := openStore(t, Config{})
	setState(dst, 1, false)
	tx := dst.Write(2)
	tx.SetClusterState(nil)
	tx.End()
	require.NoError(t, dst.Restore(bytes.NewReader(snap)))
	require.Equal(t, "s5", string(dst.ClusterState()))
	require.NoError(t, dst.Close())
	require.Equal(t, "s5", string(reopen(t, path, Config{}).ClusterState()))
}
