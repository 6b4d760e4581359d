package keel

import (
	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/metrics"
)

// Metrics returns the current value of every metric this member reports
// (MetricDescs describes them), in MetricDescs' order, for an exporter to
// convert: package keelprom does it for Prometheus. The counters and
// histograms count from the Store's Open; gauges are read when Metrics is
// called. Each call returns fresh slices the caller owns.
//
// Metrics takes no lock on the write path: counting costs a request a few
// atomic additions, and Metrics itself does the rest. It may be called at
// any time, also after Close (the gauges then describe the stopped
// member). Keel registers nothing anywhere: a process that never calls
// Metrics pays only for the counting.
func (s *Store) Metrics() []Metric {
	var c metricSet
	m := s.met
	for k := range numReqKinds {
		c.histogram(mRequestDuration, m.requests[k], Label{LabelKind, k.String()})
	}
	for k := range numReqKinds {
		c.counter(mRequestsFailed, &m.requestsFailed[k], Label{LabelKind, k.String()})
	}
	c.counter(mProposals, &m.proposals)
	c.counter(mProposalsFailed, &m.proposalsFailed)
	c.gauge(mProposalsPending, float64(s.props.pending()))

	_, leaderID := s.raft.LeaderWithID()
	c.gauge(mRaftTerm, float64(s.raft.CurrentTerm()))
	c.gauge(mCommitIndex, float64(s.raft.CommitIndex()))
	c.gauge(mAppliedIndex, float64(s.fsm.applied.Load()))
	c.counter(mLeaderChanges, &m.leaderChanges)
	c.counter(mElections, &m.elections)
	c.gauge(mHasLeader, b2f(leaderID != ""))
	c.gauge(mIsLeader, b2f(s.raft.State() == raft.Leader))

	c.histogram(mWALFsync, m.walFsync)
	c.histogram(mDBCommit, m.dbCommit)
	size, inUse := s.kv.Size()
	c.gauge(mDBSize, float64(size))
	c.gauge(mDBSizeInUse, float64(inUse))
	c.gauge(mRevision, float64(s.kv.Rev()))
	c.gauge(mCompactRevision, float64(s.kv.CompactRev()))

	c.histogram(mSnapshotTake, m.snapTake)
	c.counter(mSnapshotTakenBytes, &m.snapTakenBytes)
	c.histogram(mSnapshotSend, m.snapSend)
	c.counter(mSnapshotSentBytes, &m.snapSentBytes)
	c.counter(mSnapshotSendFailures, &m.snapSendFailed)
	c.histogram(mSnapshotInstall, m.snapInstall)
	c.counter(mSnapshotInstalledBytes, &m.snapInstalledBytes)
	c.counter(mSnapshotInstallFailures, &m.snapInstallFailed)

	ws := s.kv.WatchStats()
	c.gauge(mWatchers, float64(ws.Watchers))
	c.gauge(mWatchersUnsynced, float64(ws.Unsynced))
	c.gauge(mWatchEventsPending, float64(ws.PendingEvents))
	c.gauge(mWatchLag, float64(ws.MaxLag))

	c.gauge(mLeases, float64(s.leases.count()))
	c.counter(mLeaseGrants, &m.leaseGrants)
	c.counter(mLeaseRevokes, &m.leaseRevokes)

	c.gauge(mQuotaBytes, float64(s.quotaBytes()))
	c.gauge(mQuotaExceeded, b2f(s.fsm.alarmSet().has(s.memberID.Load(), AlarmNoSpace)))
	return c.out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricSet collects the samples of one Metrics call.
type metricSet struct{ out []Metric }

func (c *metricSet) counter(name string, v *metrics.Counter, labels ...Label) {
	c.out = append(c.out, Metric{Name: name, Type: MetricCounter, Labels: labels, Value: float64(v.Load())})
}

func (c *metricSet) gauge(name string, v float64, labels ...Label) {
	c.out = append(c.out, Metric{Name: name, Type: MetricGauge, Labels: labels, Value: v})
}

func (c *metricSet) histogram(name string, h *metrics.Histogram, labels ...Label) {
	snap := h.Snapshot()
	hv := &HistogramValue{Count: snap.Count, Sum: snap.Sum.Seconds(), Buckets: make([]HistogramBucket, len(snap.Bounds))}
	for i, b := range snap.Bounds {
		hv.Buckets[i] = HistogramBucket{UpperBound: b.Seconds(), Count: snap.Buckets[i]}
	}
	c.out = append(c.out, Metric{Name: name, Type: MetricHistogram, Labels: labels, Histogram: hv})
}
