package keel

import (
	"github.com/hashicorp/raft"
)

// Messages of the structured log events that doc.go lists under
// "Logging": stable, so that operators can match on them.
const (
	evElectionStarted       = "election started"
	evLeaderChanged         = "leader changed"
	evSnapshotTaken         = "snapshot taken"
	evSnapshotTakeFailed    = "snapshot take failed"
	evSnapshotSent          = "snapshot sent"
	evSnapshotSendFailed    = "snapshot send failed"
	evSnapshotInstalled     = "snapshot installed"
	evSnapshotInstallFailed = "snapshot install failed"
	evCompacted             = "compacted"
)

// raftEventsBuffer bounds the raft observations waiting for raftEvents;
// raft drops observations rather than wait for a full channel.
const raftEventsBuffer = 64

// observeRaft registers an observer of raft's state and leader changes
// (raft reports them from its own goroutines, dropping those the channel
// has no room for) and returns it for raftEvents.
func (s *Store) observeRaft() *raftObserver {
	ch := make(chan raft.Observation, raftEventsBuffer)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.RaftState, raft.LeaderObservation:
			return true
		}
		return false
	})
	s.raft.RegisterObserver(obs)
	return &raftObserver{obs: obs, ch: ch}
}

// raftObserver is a registered raft observer and its channel.
type raftObserver struct {
	obs *raft.Observer
	ch  chan raft.Observation
}

// raftEvents counts and logs elections and leader changes from o until
// the Store stops.
func (s *Store) raftEvents(ro *raftObserver) {
	defer s.raft.DeregisterObserver(ro.obs)
	var leader raft.ServerID
	for {
		select {
		case <-s.stop:
			return
		case o := <-ro.ch:
			switch d := o.Data.(type) {
			case raft.RaftState:
				if d == raft.Candidate {
					s.met.elections.Inc()
					s.log.Info(evElectionStarted, "term", s.raft.CurrentTerm())
				}
			case raft.LeaderObservation:
				if d.LeaderID != "" && d.LeaderID != leader {
					s.met.leaderChanges.Inc()
				}
				leader = d.LeaderID
				s.log.Info(evLeaderChanged, "leader", string(d.LeaderID), "term", s.raft.CurrentTerm())
			}
		}
	}
}
