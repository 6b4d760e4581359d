package keel

import (
	"time"
)

// healthInterval is how often the member checks its storage for a
// fail-stop condition.
const healthInterval = 200 * time.Millisecond

// healthLoop fail-stops the member when its storage has failed: the raft
// log after a failed write or fsync (wal never retries an fsync), or the
// key-value database after a failed commit. raft itself would only step
// down and keep running on a log it can no longer trust, so the member
// closes instead: calls return ErrStopped and the rest of the cluster
// carries on without it. Reopening the Dir recovers what was acknowledged.
func (s *Store) healthLoop() {
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		var cause error
		if err := s.wal.Err(); err != nil {
			cause = err
		} else if err := s.kv.Err(); err != nil {
			cause = err
		}
		if cause != nil {
			s.log.Error("storage failed, stopping this member", "err", cause)
			go s.close(false) // Close waits for this loop, so not from it
			return
		}
	}
}
