package keelprom_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keelprom"
)

// openStore opens a single-member store, closed at cleanup.
func openStore(tb testing.TB) *keel.Store {
	tb.Helper()
	s, err := keel.Open(keel.Config{Dir: tb.TempDir()})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

// families gathers g and returns its metric families by name.
func families(tb testing.TB, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	tb.Helper()
	mfs, err := g.Gather()
	require.NoError(tb, err)
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// sample returns the sample of mf whose labels are exactly labels.
func sample(tb testing.TB, mf *dto.MetricFamily, labels map[string]string) *dto.Metric {
	tb.Helper()
	require.NotNil(tb, mf)
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if maps.Equal(got, labels) {
			return m
		}
	}
	tb.Fatalf("%s has no sample with labels %v", mf.GetName(), labels)
	return nil
}

func TestRegisterReportsStoreMetrics(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	const puts = 7
	for i := range puts {
		_, err := s.Put(ctx, fmt.Sprintf("k%d", i), "v")
		require.NoError(t, err)
	}
	const gets = 400
	for range gets {
		_, err := s.Get(ctx, "k0", keel.WithSerializable())
		require.NoError(t, err)
	}
	_, err := s.Grant(ctx, 60)
	require.NoError(t, err)

	reg := prometheus.NewPedanticRegistry() // checks every metric against its Desc
	require.NoError(t, keelprom.Register(reg, s))
	fams := families(t, reg)

	// Request latency is sampled: one call in 8, counted 8 times.
	put := sample(t, fams["keel_request_duration_seconds"], map[string]string{"kind": "put"}).GetHistogram()
	require.Zero(t, put.GetSampleCount()%8)
	get := sample(t, fams["keel_request_duration_seconds"], map[string]string{"kind": "range"}).GetHistogram()
	require.InDelta(t, gets, float64(get.GetSampleCount()), gets/2) // 50 samples expected; >7 standard deviations
	require.Greater(t, get.GetSampleSum(), 0.0)
	require.NotEmpty(t, get.GetBucket())
	require.Equal(t, float64(puts+1), sample(t, fams["keel_proposals_total"], nil).GetCounter().GetValue())
	require.Equal(t, 1.0, sample(t, fams["keel_is_leader"], nil).GetGauge().GetValue())
	require.Equal(t, 1.0, sample(t, fams["keel_leases"], nil).GetGauge().GetValue())
	require.GreaterOrEqual(t, sample(t, fams["keel_revision"], nil).GetGauge().GetValue(), float64(puts+1))
	require.Equal(t, dto.MetricType_HISTOGRAM, fams["keel_wal_fsync_duration_seconds"].GetType())
	require.Equal(t, dto.MetricType_COUNTER, fams["keel_requests_failed_total"].GetType())

	// Every metric the Store reports is exported, under its own name.
	var want []string
	for _, m := range s.Metrics() {
		want = append(want, m.Name)
	}
	require.ElementsMatch(t, slices.Compact(want), slices.Collect(maps.Keys(fams)))

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems, "Prometheus naming conventions")
}

// TestDefaultRegistryUntouched registers, gathers and uses a Store's
// metrics and checks that the global registry saw none of it.
func TestDefaultRegistryUntouched(t *testing.T) {
	before := familyNames(t, prometheus.DefaultGatherer)
	s := openStore(t)
	reg := prometheus.NewRegistry()
	require.NoError(t, keelprom.Register(reg, s))
	_, err := s.Put(t.Context(), "k", "v")
	require.NoError(t, err)
	require.NotEmpty(t, families(t, reg))
	after := familyNames(t, prometheus.DefaultGatherer)
	require.Equal(t, before, after)
	for _, n := range after {
		require.False(t, strings.HasPrefix(n, "keel_"), n)
	}
	// The default registry would still take a Store's collector: nothing
	// was registered on it behind the caller's back.
	c, err := keelprom.NewCollector(s)
	require.NoError(t, err)
	require.NoError(t, prometheus.DefaultRegisterer.Register(c))
	require.True(t, prometheus.DefaultRegisterer.Unregister(c))
}

// familyNames returns the names of g's metric families with their label
// names, sorted (values change between gathers; the set must not).
func familyNames(tb testing.TB, g prometheus.Gatherer) []string {
	tb.Helper()
	var out []string
	for name, mf := range families(tb, g) {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			out = append(out, name+"{"+strings.Join(ls, ",")+"}")
		}
	}
	slices.Sort(out)
	return out
}

func TestRegisterSeveralStores(t *testing.T) {
	a, b := openStore(t), openStore(t)
	same := prometheus.NewRegistry()
	require.NoError(t, keelprom.Register(same, a))
	var already prometheus.AlreadyRegisteredError
	require.ErrorAs(t, keelprom.Register(same, b), &already, "a second Store without distinct labels")

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, keelprom.Register(reg, a, keelprom.WithConstLabels(prometheus.Labels{"member": "a"})))
	require.NoError(t, keelprom.Register(reg, b, keelprom.WithConstLabels(prometheus.Labels{"member": "b"})))
	_, err := b.Put(t.Context(), "k", "v")
	require.NoError(t, err)
	props := families(t, reg)["keel_proposals_total"]
	require.Zero(t, sample(t, props, map[string]string{"member": "a"}).GetCounter().GetValue())
	require.Equal(t, 1.0, sample(t, props, map[string]string{"member": "b"}).GetCounter().GetValue())
}

func TestRegisterErrors(t *testing.T) {
	s := openStore(t)
	tests := []struct {
		name  string
		reg   prometheus.Registerer
		store *keel.Store
		want  error
	}{
		{name: "nil registerer", store: s, want: keelprom.ErrNilRegisterer},
		{name: "nil store", reg: prometheus.NewRegistry(), want: keelprom.ErrNilStore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, keelprom.Register(tc.reg, tc.store), tc.want)
		})
	}
}

// TestCollectAfterClose: a registry that outlives its Store still
// gathers (the gauges describe the stopped member).
func TestCollectAfterClose(t *testing.T) {
	s, err := keel.Open(keel.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, keelprom.Register(reg, s))
	_, err = s.Put(context.Background(), "k", "v")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	fams := families(t, reg)
	require.Equal(t, 1.0, sample(t, fams["keel_proposals_total"], nil).GetCounter().GetValue())
	require.Zero(t, sample(t, fams["keel_is_leader"], nil).GetGauge().GetValue())
}
