package mvcc

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ownerAccessors are the public setters and getters of each owner slot.
var ownerAccessors = []struct {
	name string
	set  func(*TxnWrite, []byte)
	get  func(*Store) []byte
}{
	{name: "cluster state", set: (*TxnWrite).SetClusterState, get: (*Store).ClusterState},
	{name: "alarms", set: (*TxnWrite).SetAlarms, get: (*Store).Alarms},
}

// setOwnerAt applies a txn at index i that sets a slot (through set) to
// "s<i>" and, when withKey, also puts a key.
func setOwnerAt(s *Store, set func(*TxnWrite, []byte), i uint64, withKey bool) {
	tx := s.Write(i)
	set(tx, []byte(fmt.Sprintf("s%d", i)))
	if withKey {
		tx.Put([]byte("k"), []byte(fmt.Sprintf("v%d", i)), 0)
	}
	tx.End()
}

func TestOwnerState(t *testing.T) {
	for _, acc := range ownerAccessors {
		t.Run(acc.name, func(t *testing.T) {
			s, path := openStore(t, Config{CommitInterval: time.Hour, CommitLimit: 1 << 20})
			require.Nil(t, acc.get(s))
			rev := s.Rev()
			setOwnerAt(s, acc.set, 1, false)
			require.Equal(t, "s1", string(acc.get(s)))
			require.Equal(t, rev, s.Rev(), "owner state makes no revision")
			h1, _, err := s.Hash()
			require.NoError(t, err)
			setOwnerAt(s, acc.set, 2, false)
			h2, _, err := s.Hash()
			require.NoError(t, err)
			require.Equal(t, h1, h2, "owner state is not hashed")
			for _, other := range ownerAccessors {
				if other.name != acc.name {
					require.Nil(t, other.get(s), "slots are separate: %s", other.name)
				}
			}

			got := acc.get(s)
			got[0] = 'X'
			require.Equal(t, "s2", string(acc.get(s)), "the getter returns a copy")

			t.Run("crash keeps the state of the committed index", func(t *testing.T) {
				require.NoError(t, s.ForceCommit())
				setOwnerAt(s, acc.set, 3, true) // not committed
				s.crash()
				s2 := reopen(t, path, Config{CommitInterval: time.Hour})
				require.EqualValues(t, 2, s2.ConsistentIndex())
				require.Equal(t, "s2", string(acc.get(s2)))
				setOwnerAt(s2, acc.set, 3, true)
				require.NoError(t, s2.Close())
				s3 := reopen(t, path, Config{})
				require.Equal(t, "s3", string(acc.get(s3)))
			})
		})
	}
}

func TestOwnerStateSnapshotRestore(t *testing.T) {
	for _, acc := range ownerAccessors {
		t.Run(acc.name, func(t *testing.T) {
			src, _ := openStore(t, Config{})
			for i := uint64(1); i <= 5; i++ {
				setOwnerAt(src, acc.set, i, i%2 == 0)
			}
			snap, _ := snapshotBytes(t, src)

			dst, path := openStore(t, Config{})
			setOwnerAt(dst, acc.set, 1, false)
			tx := dst.Write(2)
			acc.set(tx, nil)
			tx.End()
			require.NoError(t, dst.Restore(bytes.NewReader(snap)))
			require.Equal(t, "s5", string(acc.get(dst)))
			require.NoError(t, dst.Close())
			require.Equal(t, "s5", string(acc.get(reopen(t, path, Config{}))))
		})
	}
}

// TestOwnerStateSetTwiceBeforeCommit checks that a value set again while a
// commit writes the previous one is still committed afterwards.
func TestOwnerStateSetTwiceBeforeCommit(t *testing.T) {
	s, path := openStore(t, Config{CommitInterval: time.Hour, CommitLimit: 1 << 20})
	setOwnerAt(s, (*TxnWrite).SetAlarms, 1, false)
	setOwnerAt(s, (*TxnWrite).SetClusterState, 2, false)
	require.NoError(t, s.ForceCommit())
	setOwnerAt(s, (*TxnWrite).SetAlarms, 3, false)
	require.NoError(t, s.Close())
	s2 := reopen(t, path, Config{})
	require.Equal(t, "s3", string(s2.Alarms()))
	require.Equal(t, "s2", string(s2.ClusterState()))
}
