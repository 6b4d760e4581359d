package keel

// MetricType is the kind of a metric, in the sense Prometheus and
// OpenTelemetry give the words.
type MetricType uint8

const (
	// MetricCounter only grows (from zero when the Store opens).
	MetricCounter MetricType = iota + 1
	// MetricGauge goes up and down.
	MetricGauge
	// MetricHistogram counts observations into buckets (Metric.Histogram).
	MetricHistogram
)

// String returns "counter", "gauge" or "histogram".
func (t MetricType) String() string {
	switch t {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	case MetricHistogram:
		return "histogram"
	}
	return "unknown"
}

// MetricDesc describes one metric a Store reports. Names, types and label
// names are stable: a release may add metrics but does not rename or
// retype one, so dashboards and exporters can rely on them. Names follow
// Prometheus conventions (a keel_ prefix, base units, _total for
// counters, _seconds and _bytes suffixes).
type MetricDesc struct {
	Name string
	Help string
	Type MetricType
	// Labels are the names of the labels every sample of the metric
	// carries, in order; nil for a metric with one unlabeled sample.
	Labels []string
}

// Label is one label of a sample.
type Label struct {
	Name, Value string
}

// Metric is one sample of a metric, as Store.Metrics reports it.
type Metric struct {
	// Name is the metric's MetricDesc.Name.
	Name string
	Type MetricType
	// Labels has one value per label name of the metric's MetricDesc,
	// in the same order.
	Labels []Label
	// Value is the counter's or gauge's value (zero for a histogram).
	Value float64
	// Histogram is set for histograms only.
	Histogram *HistogramValue
}

// HistogramValue is a histogram sample. Every Keel histogram measures a
// duration, in seconds.
type HistogramValue struct {
	// Count is the number of observations, including those above the
	// last bucket's bound.
	Count uint64
	// Sum is the sum of the observations, in seconds. It is read apart
	// from the buckets and may include or miss an observation made while
	// the sample was taken; Count always equals the buckets' total.
	Sum float64
	// Buckets are cumulative, in ascending order of UpperBound; the
	// implicit last bucket (+Inf) is Count.
	Buckets []HistogramBucket
}

// HistogramBucket is one cumulative bucket of a histogram: Count
// observations were at most UpperBound.
type HistogramBucket struct {
	UpperBound float64
	Count      uint64
}

// Names of the labels of Keel's metrics.
const (
	// LabelKind is the request kind of keel_request_duration_seconds and
	// keel_requests_failed_total: range, put, delete, txn, compact,
	// lease_grant, lease_revoke, lease_keepalive, lease_timetolive or
	// lease_leases.
	LabelKind = "kind"
)

// MetricDescs describes every metric Store.Metrics can report, for
// exporters that declare their metrics up front (Prometheus's Describe).
// A Store reports every one of them (keel_quota_bytes is 0 when the quota
// is off).
func MetricDescs() []MetricDesc {
	kind := []string{LabelKind}
	return []MetricDesc{
		{Name: mRequestDuration, Type: MetricHistogram, Labels: kind,
			Help: "Latency of calls to this member (Get, Put, Delete, Txn, Do, Compact and the lease calls), failed ones included, by kind; sampled: one call in 8 is timed and counted 8 times."},
		{Name: mRequestsFailed, Type: MetricCounter, Labels: kind,
			Help: "Calls to this member that returned an error, by kind."},
		{Name: mProposals, Type: MetricCounter,
			Help: "Writes called on this member (one per call, whatever its retries), proposed to raft here as leader or forwarded to the leader; Keel's own entries are not counted."},
		{Name: mProposalsFailed, Type: MetricCounter,
			Help: "Proposals that failed: not applied, or outcome unknown (ErrTimeout)."},
		{Name: mProposalsPending, Type: MetricGauge,
			Help: "Proposals made on this member as leader that wait to be applied."},
		{Name: mRaftTerm, Type: MetricGauge, Help: "This member's raft term."},
		{Name: mCommitIndex, Type: MetricGauge, Help: "The raft index this member knows to be committed."},
		{Name: mAppliedIndex, Type: MetricGauge, Help: "The raft index this member has applied to its key-value store."},
		{Name: mLeaderChanges, Type: MetricCounter,
			Help: "Leaders this member has seen elected: a different leader, or the same one after a time with none."},
		{Name: mElections, Type: MetricCounter, Help: "Elections this member started as a candidate (pre-votes included)."},
		{Name: mHasLeader, Type: MetricGauge, Help: "1 if this member knows a leader, else 0."},
		{Name: mIsLeader, Type: MetricGauge, Help: "1 if this member is the leader, else 0."},
		{Name: mWALFsync, Type: MetricHistogram, Help: "Latency of the raft log's fsyncs of written entries."},
		{Name: mDBCommit, Type: MetricHistogram, Help: "Latency of the key-value database's commits (bbolt), fsync included."},
		{Name: mDBSize, Type: MetricGauge, Help: "Size of the key-value database, as allocated in its file."},
		{Name: mDBSizeInUse, Type: MetricGauge, Help: "Part of the key-value database in use (its size less the free pages)."},
		{Name: mRevision, Type: MetricGauge, Help: "The store's current revision on this member."},
		{Name: mCompactRevision, Type: MetricGauge, Help: "The revision history is compacted to on this member."},
		{Name: mSnapshotTake, Type: MetricHistogram, Help: "Time to write raft snapshots of the key-value store (count: snapshots taken)."},
		{Name: mSnapshotTakenBytes, Type: MetricCounter, Help: "Bytes of raft snapshots written."},
		{Name: mSnapshotSend, Type: MetricHistogram, Help: "Time to send a raft snapshot to a member that fell behind (count: snapshots sent)."},
		{Name: mSnapshotSentBytes, Type: MetricCounter, Help: "Bytes of raft snapshots sent to other members."},
		{Name: mSnapshotSendFailures, Type: MetricCounter, Help: "Raft snapshot sends that failed."},
		{Name: mSnapshotInstall, Type: MetricHistogram, Help: "Time to install a raft snapshot into the key-value store (count: snapshots installed, from the leader or, at start-up, from this member's own)."},
		{Name: mSnapshotInstalledBytes, Type: MetricCounter, Help: "Bytes of raft snapshots installed."},
		{Name: mSnapshotInstallFailures, Type: MetricCounter, Help: "Raft snapshot installs that failed."},
		{Name: mWatchers, Type: MetricGauge, Help: "Active watchers on this member."},
		{Name: mWatchersUnsynced, Type: MetricGauge,
			Help: "Watchers behind the current revision (slow consumers, or started in the past), fed from history."},
		{Name: mWatchEventsPending, Type: MetricGauge, Help: "Events held for watchers whose channel was full."},
		{Name: mWatchLag, Type: MetricGauge, Help: "The most revisions any watcher has yet to receive."},
		{Name: mLeases, Type: MetricGauge, Help: "Leases that exist."},
		{Name: mLeaseGrants, Type: MetricCounter, Help: "Leases granted (applied on this member)."},
		{Name: mLeaseRevokes, Type: MetricCounter, Help: "Leases revoked or expired (applied on this member)."},
		{Name: mQuotaBytes, Type: MetricGauge, Help: "The database quota (0: none): writes that add data fail with ErrNoSpace beyond it."},
		{Name: mQuotaExceeded, Type: MetricGauge, Help: "1 while this member's NOSPACE alarm is active (writes that add data fail), else 0."},
	}
}

// Metric names (MetricDescs documents them).
const (
	mRequestDuration         = "keel_request_duration_seconds"
	mRequestsFailed          = "keel_requests_failed_total"
	mProposals               = "keel_proposals_total"
	mProposalsFailed         = "keel_proposals_failed_total"
	mProposalsPending        = "keel_proposals_pending"
	mRaftTerm                = "keel_raft_term"
	mCommitIndex             = "keel_raft_commit_index"
	mAppliedIndex            = "keel_raft_applied_index"
	mLeaderChanges           = "keel_leader_changes_total"
	mElections               = "keel_elections_total"
	mHasLeader               = "keel_has_leader"
	mIsLeader                = "keel_is_leader"
	mWALFsync                = "keel_wal_fsync_duration_seconds"
	mDBCommit                = "keel_db_commit_duration_seconds"
	mDBSize                  = "keel_db_size_bytes"
	mDBSizeInUse             = "keel_db_size_in_use_bytes"
	mRevision                = "keel_revision"
	mCompactRevision         = "keel_compact_revision"
	mSnapshotTake            = "keel_snapshot_take_duration_seconds"
	mSnapshotTakenBytes      = "keel_snapshot_taken_bytes_total"
	mSnapshotSend            = "keel_snapshot_send_duration_seconds"
	mSnapshotSentBytes       = "keel_snapshot_sent_bytes_total"
	mSnapshotSendFailures    = "keel_snapshot_send_failures_total"
	mSnapshotInstall         = "keel_snapshot_install_duration_seconds"
	mSnapshotInstalledBytes  = "keel_snapshot_installed_bytes_total"
	mSnapshotInstallFailures = "keel_snapshot_install_failures_total"
	mWatchers                = "keel_watchers"
	mWatchersUnsynced        = "keel_watchers_unsynced"
	mWatchEventsPending      = "keel_watch_events_pending"
	mWatchLag                = "keel_watch_lag_revisions"
	mLeases                  = "keel_leases"
	mLeaseGrants             = "keel_lease_grants_total"
	mLeaseRevokes            = "keel_lease_revokes_total"
	mQuotaBytes              = "keel_quota_bytes"
	mQuotaExceeded           = "keel_quota_exceeded"
)
