package main

import (
	"context"
	"errors"
	"io"
	"time"
)

// members is the number of members of every cluster this command runs.
const members = 3

// errNotFound is returned by get when the key does not exist.
var errNotFound = errors.New("scalebench: key not found")

// tuning selects a member configuration.
type tuning int

const (
	// tuneDefault is each system's default configuration (ports, dirs and
	// logging aside).
	tuneDefault tuning = iota
	// tuneSnapshot makes a lagging follower need a snapshot soon: Keel
	// SnapshotThreshold 8192, TrailingLogs 1024, SnapshotInterval 1s;
	// etcd SnapshotCount 10000, SnapshotCatchUpEntries 1024.
	tuneSnapshot
)

// dataFiles are the paths inside one member's data directory that the
// disk figures measure.
type dataFiles struct {
	// DB is the key-value database file (bbolt).
	DB string
	// WAL is the raft log directory.
	WAL string
	// Snap is the raft snapshot directory (etcd: member/snap without db).
	Snap string
	// SnapExclude is a file under Snap not counted as a snapshot.
	SnapExclude string
}

// cluster is a 3-member cluster of one system, all members in this
// process. Member positions are 0..members-1 and stay fixed across
// restarts. Methods other than put and get are not safe for concurrent
// use.
type cluster interface {
	// put writes kvs through the leader: a single put for one kv, else one
	// transaction of puts.
	put(ctx context.Context, kvs []kv) error
	// get reads key on member i; errNotFound if it does not exist.
	get(ctx context.Context, i int, key string, serializable bool) (string, error)
	// leader returns the position of the member that leads, or -1.
	leader() int
	// lastIndex returns member i's last raft log index.
	lastIndex(i int) uint64
	// closeMember stops member i, keeping its data.
	closeMember(i int) error
	// openMember restarts member i from its data directory with t; it
	// returns when the member's raft node runs (it may not serve yet).
	openMember(i int, t tuning) error
	// files names member i's data files.
	files(i int) dataFiles
	// snapshot writes a backup of the leader's key-value database to w.
	snapshot(ctx context.Context, w io.Writer) (int64, error)
	// compactedPast reports whether member i has discarded (since its
	// last open) raft log entries past index, so that a follower whose log
	// ends at index can only catch up from a snapshot.
	compactedPast(i int, index uint64) bool
	// installedSnapshot reports whether member i installed a snapshot
	// received from the leader since its last open, and its size in bytes
	// as logged.
	installedSnapshot(i int) (bool, int64)
	// join starts a fresh member named joinerName, with an empty data
	// directory and tuneSnapshot, that joins the running cluster, and
	// returns once a linearizable Get of key on it returned want; see
	// joinTimes. It is not one of the positions 0..members-1; close stops
	// it too.
	join(ctx context.Context, key, want string) (joinTimes, error)
	// joinerSnapshot reports how long after its join started the joined
	// member logged that it installed a snapshot from the leader, the
	// snapshot's size as logged, and whether it did.
	joinerSnapshot() (time.Duration, int64, bool)
	// deleteRange deletes the keys in [key, end) through the leader and
	// returns the revision of the delete.
	deleteRange(ctx context.Context, key, end string) (int64, error)
	// compact compacts history up to rev through member i, the leader,
	// and waits until member i's database no longer holds it.
	compact(ctx context.Context, i int, rev int64) error
	// defragment defragments member i's database and returns the write
	// pause the system reports (0 if it reports none).
	defragment(ctx context.Context, i int) (time.Duration, error)
	// close stops every running member.
	close() error
}
