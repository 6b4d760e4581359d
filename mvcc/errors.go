package mvcc

import "errors"

var (
	// ErrCompacted is returned by Range when the requested revision is below
	// the store's compaction revision.
	ErrCompacted = errors.New("mvcc: required revision has been compacted")

	// ErrFutureRev is returned by Range when the requested revision is above
	// the store's current revision.
	ErrFutureRev = errors.New("mvcc: required revision is a future revision")

	// ErrClosed is returned by every operation on a Store after Close.
	ErrClosed = errors.New("mvcc: store closed")

	// ErrFailed is returned (wrapped together with the underlying cause) once
	// a bbolt commit has failed. The store is then fail-stopped: see
	// [Store.Err].
	ErrFailed = errors.New("mvcc: store failed")

	// ErrCorruptSnapshot is returned by [Store.Restore] when the snapshot
	// stream is not a valid Keel mvcc database. It is also returned by
	// [Open] when an existing database file has invalid contents.
	ErrCorruptSnapshot = errors.New("mvcc: corrupt snapshot")

	// ErrCorruptRecord is returned when a stored revision key or KeyValue
	// record cannot be decoded.
	ErrCorruptRecord = errors.New("mvcc: corrupt record")
)

// ErrInvalidConfig is returned by [Open] for a Config with negative values.
var ErrInvalidConfig = errors.New("mvcc: invalid config")

// ErrInvalidWatch is returned by [Store.Watch] for a negative start
// revision, an empty range (end <= key) or a nil sink.
var ErrInvalidWatch = errors.New("mvcc: invalid watch")

var (
	// ErrLeaseNotFound is returned by [TxnWrite.RevokeLease] and
	// [TxnWrite.CheckpointLease] for a lease that is not granted.
	ErrLeaseNotFound = errors.New("mvcc: lease not found")

	// ErrLeaseExists is returned by [TxnWrite.GrantLease] for an ID that is
	// already granted.
	ErrLeaseExists = errors.New("mvcc: lease already exists")

	// ErrInvalidLease is returned by [TxnWrite.GrantLease] for an ID or TTL
	// <= 0, and by [TxnWrite.CheckpointLease] for a negative remaining TTL.
	ErrInvalidLease = errors.New("mvcc: invalid lease")
)

// ErrBadBackup is returned by [ReadBackup] and [RestoreBackup] for a
// stream that is not a complete, intact backup: a foreign or damaged
// header, a truncated body or trailer, a checksum mismatch, data after
// the trailer, or a body that is not a valid database.
var ErrBadBackup = errors.New("mvcc: bad backup")
