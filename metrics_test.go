package keel

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// metricKey names one sample: its metric's name and its label values.
func metricKey(m Metric) string {
	var b strings.Builder
	b.WriteString(m.Name)
	for _, l := range m.Labels {
		b.WriteString("," + l.Name + "=" + l.Value)
	}
	return b.String()
}

// metricsByKey returns s's metrics by metricKey.
func metricsByKey(tb testing.TB, s *Store) map[string]Metric {
	tb.Helper()
	out := map[string]Metric{}
	for _, m := range s.Metrics() {
		k := metricKey(m)
		_, dup := out[k]
		require.False(tb, dup, "sample %s reported twice", k)
		out[k] = m
	}
	return out
}

// TestMetricsSingleMember drives every kind of call on one member and
// checks the counters, histograms and gauges it reports.
func TestMetricsSingleMember(t *testing.T) {
	s := openSingle(t)
	s.met.sampleMask = 0 // time every request: the counts below are exact
	ctx := testCtx(t)
	for i := range 5 {
		_, err := s.Put(ctx, "k", string(rune('a'+i)))
		require.NoError(t, err)
	}
	_, err := s.Get(ctx, "k")
	require.NoError(t, err)
	_, err = s.Get(ctx, "k", WithRev(1000))
	require.ErrorIs(t, err, ErrFutureRev)
	_, err = s.Txn(ctx).If(Compare(Value("k"), "=", "e")).Then(OpPut("t", "1")).Commit()
	require.NoError(t, err)
	_, err = s.Delete(ctx, "t")
	require.NoError(t, err)
	_, err = s.Compact(ctx, 3)
	require.NoError(t, err)
	g, err := s.Grant(ctx, 60)
	require.NoError(t, err)
	_, err = s.KeepAliveOnce(ctx, g.ID)
	require.NoError(t, err)
	_, err = s.TimeToLive(ctx, g.ID)
	require.NoError(t, err)
	_, err = s.Leases(ctx)
	require.NoError(t, err)
	g2, err := s.Grant(ctx, 60)
	require.NoError(t, err)
	_, err = s.Revoke(ctx, g2.ID)
	require.NoError(t, err)
	_, err = s.Revoke(ctx, g2.ID)
	require.ErrorIs(t, err, ErrLeaseNotFound)
	_ = s.Watch(ctx, "k")
	require.NoError(t, s.kv.ForceCommit())
	require.NoError(t, s.RaftSnapshot())

	ms := metricsByKey(t, s)
	requests := map[string]uint64{ // calls per kind
		"range": 2, "put": 5, "delete": 1, "txn": 1, "compact": 1, "lease_grant": 2,
		"lease_revoke": 2, "lease_keepalive": 1, "lease_timetolive": 1, "lease_leases": 1,
	}
	failed := map[string]float64{"range": 1, "lease_revoke": 1}
	for kind, n := range requests {
		h := ms[mRequestDuration+",kind="+kind].Histogram
		require.NotNil(t, h, kind)
		require.Equal(t, n, h.Count, kind)
		require.Greater(t, h.Sum, 0.0, kind)
		require.Equal(t, failed[kind], ms[mRequestsFailed+",kind="+kind].Value, kind)
	}
	// Writes are proposals: 5 puts, txn, delete, compact, 2 grants, 2
	// revokes (the second fails in apply, which is still a proposal).
	require.Equal(t, 12.0, ms[mProposals].Value)
	require.Zero(t, ms[mProposalsFailed].Value)
	require.Zero(t, ms[mProposalsPending].Value)

	require.Equal(t, 1.0, ms[mIsLeader].Value)
	require.Equal(t, 1.0, ms[mHasLeader].Value)
	require.Equal(t, 1.0, ms[mLeaderChanges].Value, "a single member sees itself elected once")
	require.GreaterOrEqual(t, ms[mElections].Value, 1.0)
	require.Greater(t, ms[mRaftTerm].Value, 0.0)
	require.Equal(t, float64(s.fsm.applied.Load()), ms[mAppliedIndex].Value)
	require.GreaterOrEqual(t, ms[mCommitIndex].Value, ms[mAppliedIndex].Value)
	require.Equal(t, float64(s.kv.Rev()), ms[mRevision].Value)
	require.Equal(t, 3.0, ms[mCompactRevision].Value)

	require.NotZero(t, ms[mWALFsync].Histogram.Count)
	require.NotZero(t, ms[mDBCommit].Histogram.Count)
	require.Equal(t, uint64(1), ms[mSnapshotTake].Histogram.Count)
	require.Greater(t, ms[mSnapshotTakenBytes].Value, 0.0)
	require.Zero(t, ms[mSnapshotSend].Histogram.Count)
	require.Zero(t, ms[mSnapshotInstall].Histogram.Count)

	require.Equal(t, 1.0, ms[mWatchers].Value)
	require.Zero(t, ms[mWatchersUnsynced].Value)
	require.Equal(t, 1.0, ms[mLeases].Value)
	require.Equal(t, 2.0, ms[mLeaseGrants].Value)
	require.Equal(t, 1.0, ms[mLeaseRevokes].Value)
	require.Equal(t, float64(defaultQuotaBytes), ms[mQuotaBytes].Value)

	// Histogram buckets are cumulative and bounded by Count.
	for _, m := range ms {
		if h := m.Histogram; h != nil {
			for i, b := range h.Buckets {
				require.LessOrEqual(t, b.Count, h.Count, m.Name)
				if i > 0 {
					require.GreaterOrEqual(t, b.Count, h.Buckets[i-1].Count, m.Name)
					require.Greater(t, b.UpperBound, h.Buckets[i-1].UpperBound, m.Name)
				}
			}
		}
	}
}

// TestMetricsMatchDescs checks that what Metrics reports is what
// MetricDescs declares (name, type, label names, order), and that every
// declared metric is reported unless its source is optional.
func TestMetricsMatchDescs(t *testing.T) {
	s := openSingle(t)
	descs := MetricDescs()
	byName := map[string]MetricDesc{}
	var order []string
	for _, d := range descs {
		require.NotContains(t, byName, d.Name, "declared twice")
		require.True(t, strings.HasPrefix(d.Name, "keel_"), d.Name)
		require.NotEmpty(t, d.Help, d.Name)
		require.Contains(t, []MetricType{MetricCounter, MetricGauge, MetricHistogram}, d.Type, d.Name)
		require.Equal(t, d.Type == MetricCounter, strings.HasSuffix(d.Name, "_total"), d.Name)
		byName[d.Name] = d
		order = append(order, d.Name)
	}
	seen := map[string]bool{}
	last := -1
	for _, m := range s.Metrics() {
		d, ok := byName[m.Name]
		require.True(t, ok, "%s is not declared", m.Name)
		require.Equal(t, d.Type, m.Type, m.Name)
		require.Equal(t, d.Type == MetricHistogram, m.Histogram != nil, m.Name)
		var names []string
		for _, l := range m.Labels {
			names = append(names, l.Name)
		}
		require.Equal(t, d.Labels, names, m.Name)
		i := slices.Index(order, m.Name)
		require.GreaterOrEqual(t, i, last, "%s out of MetricDescs' order", m.Name)
		last = i
		seen[m.Name] = true
	}
	for _, d := range descs {
		require.True(t, seen[d.Name], "%s declared but not reported", d.Name)
	}
	ms := metricsByKey(t, s)
	require.Equal(t, float64(defaultQuotaBytes), ms[mQuotaBytes].Value)
	require.Zero(t, ms[mQuotaExceeded].Value)
	size, inUse := s.kv.Size()
	require.Equal(t, float64(size), ms[mDBSize].Value)
	require.Equal(t, float64(inUse), ms[mDBSizeInUse].Value)
}

// TestMetricsWatchLag: a watcher whose consumer stops reading shows up as
// unsynced, with pending events and a lag, and no longer once it reads.
func TestMetricsWatchLag(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, Logger: testLogger(), WatchBufferSize: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx := testCtx(t)
	wch := s.Watch(ctx, "k")
	const puts = 5
	for i := range puts {
		_, err := s.Put(ctx, "k", string(rune('a'+i)))
		require.NoError(t, err)
	}
	ms := metricsByKey(t, s)
	require.Equal(t, 1.0, ms[mWatchers].Value)
	require.Equal(t, 1.0, ms[mWatchersUnsynced].Value)
	require.Equal(t, 1.0, ms[mWatchEventsPending].Value, "one response held")
	require.Equal(t, float64(puts-1), ms[mWatchLag].Value, "all but the buffered revision")
	for events := 0; events < puts; {
		select {
		case wr := <-wch:
			events += len(wr.Events)
		case <-time.After(30 * time.Second):
			t.Fatal("watcher did not catch up")
		}
	}
	ms = metricsByKey(t, s)
	require.Zero(t, ms[mWatchersUnsynced].Value)
	require.Zero(t, ms[mWatchLag].Value)
}

// BenchmarkRequestMetrics measures what counting adds to every call: the
// deferred latency observation of Do and the lease calls, and a
// proposal's count (the "after" sub-benchmark), against the same call
// without them.
func BenchmarkRequestMetrics(b *testing.B) {
	m := newStoreMetrics()
	call := func(err error) error { return err }
	b.Run("without", func(b *testing.B) {
		for b.Loop() {
			_ = call(nil)
		}
	})
	b.Run("with", func(b *testing.B) {
		instrumented := func(e error) (err error) {
			defer m.request(kindRange, m.now(), &err)
			defer m.proposed(&err)
			return call(e)
		}
		for b.Loop() {
			_ = instrumented(nil)
		}
	})
}

// Request latency is sampled: one request in 8 is timed and counted 8
// times, so the histogram's count tracks the number of requests.
func TestMetricsRequestSampling(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	const gets = 800
	for range gets {
		_, err := s.Get(ctx, "k", WithSerializable())
		require.NoError(t, err)
	}
	h := metricsByKey(t, s)[mRequestDuration+",kind=range"].Histogram
	require.NotNil(t, h)
	require.Zero(t, h.Count%(requestSampleMask+1), "whole samples only")
	// 100 samples expected; 50..150 is more than 5 standard deviations.
	require.InDelta(t, gets, float64(h.Count), gets/2, "count %d", h.Count)
}
