package mvcc

// SetClusterState replaces the store's cluster state with state, a value
// the owner encodes (Keel's membership records). It becomes visible at End
// and is committed to bbolt with the txn's consistent index, so it is in
// every snapshot taken after End and survives a crash exactly as the key
// records do. The store copies state. It makes no revision: the cluster
// state is not part of the key space, its history or its hash.
func (t *TxnWrite) SetClusterState(state []byte) {
	t.checkOpen()
	t.clusterState = append(make([]byte, 0, len(state)), state...)
	t.clusterStateSet = true
}

// ClusterState returns a copy of the cluster state as of the latest ended
// write txn (nil if it was never set). It never waits for a bbolt commit.
func (s *Store) ClusterState() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.clusterState == nil {
		return nil
	}
	return append([]byte{}, s.clusterState...)
}
