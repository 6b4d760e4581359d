package mvcc

// SetClusterState replaces the store's cluster state with state, a value
// the owner encodes (Keel's membership records). It is owner state (see
// owner_state.go): visible at End, committed with the txn's consistent
// index, carried in snapshots, and not part of revisions or the hash. The
// store copies state.
func (t *TxnWrite) SetClusterState(state []byte) { t.setOwner(slotCluster, state) }

// ClusterState returns a copy of the cluster state as of the latest ended
// write txn (nil if it was never set). It never waits for a bbolt commit.
func (s *Store) ClusterState() []byte { return s.getOwner(slotCluster) }
