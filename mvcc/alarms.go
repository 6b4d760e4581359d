package mvcc

// SetAlarms replaces the store's alarm state with alarms, a value the
// owner encodes (Keel's replicated alarms, such as NOSPACE). Like the
// cluster state it is owner state (see owner_state.go): visible at End,
// committed with the txn's consistent index, carried in snapshots, and
// not part of revisions or the hash. The store copies alarms.
func (t *TxnWrite) SetAlarms(alarms []byte) { t.setOwner(slotAlarms, alarms) }

// Alarms returns a copy of the alarm state as of the latest ended write
// txn (nil if it was never set). It never waits for a bbolt commit.
func (s *Store) Alarms() []byte { return s.getOwner(slotAlarms) }
