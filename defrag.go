package keel

import "time"

// DefragmentResponse is the response to Defragment: etcd's, with what
// the defragmentation did.
type DefragmentResponse struct {
	Header *ResponseHeader
	// SizeBefore and SizeAfter are the sizes in bytes of this member's
	// database file (kv.db in Config.Dir) before and after.
	SizeBefore, SizeAfter int64
	// Duration is how long the whole defragmentation took.
	Duration time.Duration
	// CommitPause is how long its final switch held the database's
	// commits. Reads and writes go on during it; a write waits only if
	// the member has 10,000 applied changes not yet committed to the
	// database (back-pressure), and a raft snapshot started meanwhile
	// waits for the switch to end.
	CommitPause time.Duration
}
