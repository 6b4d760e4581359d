package keel_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// metric returns the sample of s's metric name with the given label
// values (none for an unlabeled metric), failing tb if s reports none.
func metric(tb testing.TB, s *keel.Store, name string, labelValues ...string) keel.Metric {
	tb.Helper()
	for _, m := range s.Metrics() {
		if m.Name != name || len(m.Labels) != len(labelValues) {
			continue
		}
		match := true
		for i, l := range m.Labels {
			match = match && l.Value == labelValues[i]
		}
		if match {
			return m
		}
	}
	tb.Fatalf("no sample of %s %v", name, labelValues)
	return keel.Metric{}
}

// eventually waits, within keeltest.WaitLimit, for cond to hold.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	require.Eventually(tb, cond, keeltest.WaitLimit, 10*time.Millisecond, what)
}

// TestClusterMetrics checks the leadership gauges and counters on every
// member across a failover, and that a write on a follower counts there.
func TestClusterMetrics(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	ctx := t.Context()
	f := c.Follower()
	f.TimeEveryRequest()
	_, err := f.Put(ctx, "k", "v")
	require.NoError(t, err)
	require.Equal(t, 1.0, metric(t, f, "keel_proposals_total").Value, "counted where it was called")
	require.Equal(t, uint64(1), metric(t, f, "keel_request_duration_seconds", "put").Histogram.Count)
	converge(t, c)

	oldIdx := c.Index(c.Leader())
	before := map[int]float64{}
	for i, s := range c.Members() {
		eventually(t, "every member sees the leader", func() bool {
			return metric(t, s, "keel_has_leader").Value == 1 && metric(t, s, "keel_leader_changes_total").Value >= 1
		})
		require.Equal(t, i == oldIdx, metric(t, s, "keel_is_leader").Value == 1, "member %d", i)
		before[i] = metric(t, s, "keel_leader_changes_total").Value
	}

	c.Stop(oldIdx)
	c.Leader() // waits for a new one
	for i, s := range c.Members() {
		if s == nil {
			continue // the stopped member
		}
		eventually(t, "the survivors count the new leader", func() bool {
			return metric(t, s, "keel_leader_changes_total").Value > before[i] && metric(t, s, "keel_has_leader").Value == 1
		})
	}
}

// requireSnapshotMetrics checks that member lag installed a snapshot and
// another member sent it, and that bytes were counted on both sides.
func requireSnapshotMetrics(tb testing.TB, c *keeltest.Cluster, lag int) {
	tb.Helper()
	s := c.Member(lag)
	require.GreaterOrEqual(tb, metric(tb, s, "keel_snapshot_install_duration_seconds").Histogram.Count, uint64(1))
	installed := metric(tb, s, "keel_snapshot_installed_bytes_total").Value
	require.Greater(tb, installed, 0.0)
	// The sender counts once the installer's reply reaches it, which
	// may be after the installer serves.
	eventually(tb, "the snapshot send to be counted", func() bool {
		sent, sends := 0.0, uint64(0)
		for i, m := range c.Members() {
			if i != lag && m != nil {
				sends += metric(tb, m, "keel_snapshot_send_duration_seconds").Histogram.Count
				sent += metric(tb, m, "keel_snapshot_sent_bytes_total").Value
			}
		}
		return sends >= 1 && sent >= installed
	})
}
