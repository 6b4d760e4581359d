package main

// result is what one system's child process measures; it travels to the
// parent as JSON on the child's stdout. Sizes are bytes, times seconds.
type result struct {
	// System is "keel" or "etcd".
	System string `json:"system"`
	// Method describes how the load wrote.
	Method string `json:"method"`
	// Keys is the number of keys loaded.
	Keys int `json:"keys"`

	// LoadSeconds is the wall time of the load.
	LoadSeconds float64 `json:"load_seconds"`
	// LoadRate is keys per second over the load.
	LoadRate float64 `json:"load_keys_per_second"`
	// LoadRetries counts writes retried after an error.
	LoadRetries int `json:"load_retries"`

	// HeapBefore and HeapAfter are the process's heap (3 members) after
	// the cluster started and after the load, each after a full GC.
	HeapBefore heapStats `json:"heap_before"`
	HeapAfter  heapStats `json:"heap_after"`
	// RSSAfterLoad is the process's resident set after the load, read
	// with HeapAfter (after the GC; Go returns freed pages to the OS only
	// gradually, so it still holds some of the load's garbage).
	RSSAfterLoad uint64 `json:"rss_after_load_bytes"`
	// PeakRSSLoad is the process's peak resident set (VmHWM) at the end of
	// the load.
	PeakRSSLoad uint64 `json:"peak_rss_load_bytes"`
	// PeakRSS is the child process's peak resident set (rusage maxrss),
	// filled in by the parent.
	PeakRSS uint64 `json:"peak_rss_bytes"`

	// DBBytes is the mean length of the members' database files, with
	// every member stopped after the load.
	DBBytes int64 `json:"db_file_bytes_per_member"`
	// WALBytes is the mean disk allocation of the members' raft log
	// directories at the same point.
	WALBytes int64 `json:"wal_dir_bytes_per_member"`
	// SnapBytes is the mean disk allocation of the members' raft snapshot
	// files at the same point.
	SnapBytes int64 `json:"snap_dir_bytes_per_member"`

	// FollowerSerializable is the time from reopening a stopped follower
	// until it served a serializable Get of the last key with its value.
	FollowerSerializable float64 `json:"follower_restart_serializable_seconds"`
	// FollowerLinearizable is the time from the same reopen until a
	// linearizable Get on that follower returned the value.
	FollowerLinearizable float64 `json:"follower_restart_linearizable_seconds"`
	// ClusterLinearizable is the time from reopening all 3 stopped
	// members until a linearizable Get on the first returned the value.
	ClusterLinearizable float64 `json:"cluster_restart_linearizable_seconds"`

	// BackupBytes and BackupSeconds are the size and time of a backup
	// snapshot of the leader's database streamed to io.Discard.
	BackupBytes   int64   `json:"backup_snapshot_bytes"`
	BackupSeconds float64 `json:"backup_snapshot_seconds"`

	// LagWrites is the number of puts written while a follower was down.
	LagWrites int `json:"lag_writes"`
	// LagCatchUp is the time from reopening that follower until it
	// served (serializable) the last of those puts.
	LagCatchUp float64 `json:"lag_catch_up_seconds"`
	// SnapshotInstalled reports whether the follower's log shows that it
	// installed a snapshot from the leader.
	SnapshotInstalled bool `json:"snapshot_installed"`
	// SnapshotReceivedBytes is the snapshot size the follower logged.
	SnapshotReceivedBytes int64 `json:"snapshot_received_bytes"`
	// LeaderCompacted reports whether the leader had discarded the log
	// entries the follower missed before it was reopened.
	LeaderCompacted bool `json:"leader_compacted_past_follower"`

	// JoinLinearizable is the time from starting a fresh member that joins
	// the running cluster (Keel: keel.Open with Config.Join; etcd:
	// MemberAddAsLearner, embed.StartEtcd, MemberPromote) until a
	// linearizable Get of the last put on it returned its value.
	JoinLinearizable float64 `json:"join_linearizable_seconds"`
	// JoinVoter is the time from the same start until the new member was
	// a voter (Keel: the leader's MemberList shows it promoted; etcd:
	// MemberPromote succeeded).
	JoinVoter float64 `json:"join_voter_seconds"`
	// JoinSnapshotInstalled reports whether the new member's log shows
	// that it installed a snapshot from the leader.
	JoinSnapshotInstalled bool `json:"join_snapshot_installed"`
	// JoinSnapshotSeconds is the time from the same start until the new
	// member logged that install.
	JoinSnapshotSeconds float64 `json:"join_snapshot_installed_seconds"`
	// JoinSnapshotBytes is the snapshot size the new member logged.
	JoinSnapshotBytes int64 `json:"join_snapshot_received_bytes"`
	// JoinNote, if not empty, tells what delayed the join, from the new
	// member's log.
	JoinNote string `json:"join_note,omitempty"`

	// DefragDeleted is the number of loaded keys deleted, and compacted
	// away, before the defragmentation.
	DefragDeleted int `json:"defrag_deleted_keys"`
	// DefragFileBefore and DefragFileAfter are the leader's database
	// file length before and after it defragmented.
	DefragFileBefore int64 `json:"defrag_file_before_bytes"`
	DefragFileAfter  int64 `json:"defrag_file_after_bytes"`
	// DefragSeconds is the time the leader's defragmentation took.
	DefragSeconds float64 `json:"defrag_seconds"`
	// DefragReportedPause is the write pause the system reports (Keel:
	// DefragmentResponse.CommitPause; etcd reports none: 0).
	DefragReportedPause float64 `json:"defrag_reported_pause_seconds"`
	// DefragPuts, DefragPutFailures and DefragPutMax are the writer
	// loop's puts that succeeded and failed, ending during the
	// defragmentation, and the longest put that overlapped it.
	DefragPuts        int     `json:"defrag_puts"`
	DefragPutFailures int     `json:"defrag_put_failures"`
	DefragPutMax      float64 `json:"defrag_put_max_seconds"`
	// DefragGets, DefragGetFailures and DefragGetMax are the same for the
	// reader loop's linearizable Gets on the leader.
	DefragGets        int     `json:"defrag_gets"`
	DefragGetFailures int     `json:"defrag_get_failures"`
	DefragGetMax      float64 `json:"defrag_get_max_seconds"`
	// BaselinePutMax and BaselineGetMax are the longest put and get that
	// ended in the second before the defragmentation, for comparison.
	BaselinePutMax float64 `json:"baseline_put_max_seconds"`
	BaselineGetMax float64 `json:"baseline_get_max_seconds"`
	// BaselinePuts and BaselineGets are the puts and gets that completed
	// in that second.
	BaselinePuts int `json:"baseline_puts"`
	BaselineGets int `json:"baseline_gets"`

	// WallSeconds is the child's whole run.
	WallSeconds float64 `json:"wall_seconds"`
}
