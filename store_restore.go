package keel

import (
	"fmt"

	"github.com/hashicorp/raft"
)

// A member prepared by RestoreMember holds the backup's database with
// consistent index 0 and an identity marked Restored, but no raft state.
// Its first Open bootstraps the new cluster from that database instead of
// with raft.BootstrapCluster, which writes the first configuration as log
// entry 1: a member joining later would replay the log from entry 1 onto
// an empty database and never see the restored data, which is in no log
// entry. Instead the first configuration goes into a raft snapshot of the
// restored database at index 1, term 1. The new log starts after it, and
// raft sends that snapshot (or a later one) to every member that joins,
// exactly as to a member that fell behind a compacted log. Members
// restored from one backup with one Peers list write identical snapshots,
// so they agree on the data and the configuration when they elect.
const (
	restoredIndex = 1
	restoredTerm  = 1
)

// bootstrapRestored records restoredIndex as the database's consistent
// index and saves the bootstrap snapshot. A crash before the snapshot is
// complete leaves no raft state (raft renames a snapshot into place only
// once it is complete), so the next Open does this again.
func (s *Store) bootstrapRestored() error {
	if s.kv.ConsistentIndex() < restoredIndex {
		s.kv.Write(restoredIndex).End()
	}
	sn, err := s.kv.Snapshot() // commits the index
	if err != nil {
		return err
	}
	defer sn.Close()
	sink, err := s.snaps.Create(raft.SnapshotVersionMax, restoredIndex, restoredTerm,
		s.bootstrapConfiguration(), restoredIndex, s.trans.Raft())
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	if _, err := sn.WriteTo(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	s.log.Info("bootstrapped a restored cluster", "revision", s.kv.Rev(), "compact_revision", s.kv.CompactRev())
	return nil
}
