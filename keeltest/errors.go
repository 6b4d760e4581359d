package keeltest

import "errors"

var (
	// ErrPartitioned is returned by a member's dial that a network fault
	// (Isolate, Cut) refuses.
	ErrPartitioned = errors.New("keeltest: partitioned")
	// ErrDiverged is returned by WaitConverged when members that applied
	// the same raft entries report different state hashes.
	ErrDiverged = errors.New("keeltest: members diverged")
)
