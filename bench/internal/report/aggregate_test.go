package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/bench/internal/report"
	"github.com/keeldb/keel/bench/internal/workload"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"one", []float64{3}, 3},
		{"odd unsorted", []float64{5, 1, 3}, 3},
		{"even is the mean of the middle two", []float64{4, 1, 2, 10}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			require.Equal(t, tt.want, report.Median(tt.in))
			require.Equal(t, in, tt.in, "input must not be reordered")
		})
	}
}

func ExampleMedian() {
	fmt.Println(report.Median([]float64{9000, 11000, 10000}))
	fmt.Println(report.Median([]float64{1, 2, 3, 4}))
	// Output:
	// 10000
	// 2.5
}

// sample builds a sample with ops/s and p99 (p50 = p99/2).
func sample(round int, store string, cell report.Cell, ops float64, p99 time.Duration) report.Sample {
	return report.Sample{Round: round, Store: store, Cell: cell, Stats: workload.Stats{
		Calls: 100, Entries: 100, Elapsed: time.Second, OpsPerSec: ops, P50: p99 / 2, P99: p99, Max: p99,
	}}
}

// afterSample is a batch-1 after-truncate sample with burst and truncation.
func afterSample(round int, store string, ops float64, p99, del time.Duration) report.Sample {
	s := sample(round, store, report.CellB1AfterTruncate, ops, p99)
	s.Burst = &workload.BurstStats{Entries: 1000, Batch: 64, Elapsed: time.Second}
	s.Truncate = &workload.TruncateStats{Min: 1, Max: 900, Elapsed: del, First: 901, Last: 1000}
	s.DiskBytes = 1 << 20
	return s
}

// fixture: keel-wal does 10k ops/s everywhere; raft-boltdb 3k fresh and 1k
// after truncation; raft-wal 12k, 8k, 11k in three rounds.
func fixture() (report.Config, []report.Sample) {
	cfg := report.Config{Rounds: 3, Reference: "keel-wal", Stores: []string{"keel-wal", "raft-boltdb", "raft-wal"}}
	var s []report.Sample
	rw := []float64{12000, 8000, 11000}
	for r := 1; r <= 3; r++ {
		s = append(s,
			sample(r, "keel-wal", report.CellB1Fresh, 10000, 200*time.Microsecond),
			sample(r, "raft-boltdb", report.CellB1Fresh, 3000, 800*time.Microsecond),
			sample(r, "raft-wal", report.CellB1Fresh, rw[r-1], 200*time.Microsecond),
			afterSample(r, "keel-wal", 10000, 200*time.Microsecond, time.Millisecond),
			afterSample(r, "raft-boltdb", 1000, 2*time.Millisecond, 200*time.Millisecond),
		)
	}
	return cfg, s
}

func TestBuild(t *testing.T) {
	cfg, samples := fixture()
	r, err := report.Build(cfg, report.Env{}, samples)
	require.NoError(t, err)

	require.Len(t, r.Summaries, 5)
	require.Equal(t, report.Summary{Store: "raft-wal", Cell: report.CellB1Fresh, Rounds: 3,
		OpsPerSec: 11000, MinOpsPerSec: 8000, MaxOpsPerSec: 12000,
		P50: 100 * time.Microsecond, P99: 200 * time.Microsecond}, r.Summaries[2])

	ratios := map[string]report.Ratio{}
	for _, ra := range r.Ratios {
		ratios[string(ra.Cell)+"/"+ra.Baseline] = ra
	}
	require.Len(t, ratios, 3)
	require.InDelta(t, 10000.0/3000, ratios["batch1-fresh/raft-boltdb"].Ops, 1e-9)
	require.InDelta(t, 0.25, ratios["batch1-fresh/raft-boltdb"].P99, 1e-9)
	// Per-round ratios 10/12, 10/8, 10/11: the median is 10/11.
	require.InDelta(t, 10000.0/11000, ratios["batch1-fresh/raft-wal"].Ops, 1e-9)
	require.InDelta(t, 10.0, ratios["batch1-after-truncate/raft-boltdb"].Ops, 1e-9)

	require.Len(t, r.Truncations, 2)
	bolt := r.Truncations[1]
	require.Equal(t, "raft-boltdb", bolt.Store)
	require.Equal(t, 200*time.Millisecond, bolt.DeleteRange)
	require.InDelta(t, 1000.0/3000, bolt.OpsAfterFresh, 1e-9)
	require.InDelta(t, 2.5, bolt.P99AfterFresh, 1e-9)
	require.InDelta(t, 1000.0, bolt.BurstOpsSec, 1e-9)

	require.Equal(t, []report.Target{
		{Name: "keel-wal batch-1 ops/s >= 2.0x raft-boltdb", Measured: 10000.0 / 3000, Threshold: 2, Evaluated: true, Met: true},
		{Name: "keel-wal batch-1 ops/s >= 1.0x raft-wal", Measured: 10000.0 / 11000, Threshold: 1, Evaluated: true, Met: false},
		{Name: "keel-wal no degradation after burst+truncate (after/fresh ops/s >= 0.85)", Measured: 1, Threshold: 0.85, Evaluated: true, Met: true},
	}, r.Targets)
}

func TestBuildTargetsNotEvaluatedWithoutStores(t *testing.T) {
	cfg := report.Config{Reference: "keel-wal", Stores: []string{"keel-wal"}}
	r, err := report.Build(cfg, report.Env{}, []report.Sample{sample(1, "keel-wal", report.CellB1Fresh, 1, time.Millisecond)})
	require.NoError(t, err)
	require.Len(t, r.Targets, 3)
	for _, tg := range r.Targets {
		require.False(t, tg.Evaluated, tg.Name)
		require.False(t, tg.Met, tg.Name)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	s := sample(1, "a", report.CellB1Fresh, 1, time.Millisecond)
	tests := []struct {
		name    string
		samples []report.Sample
		wantErr error
	}{
		{"no samples", nil, report.ErrNoSamples},
		{"duplicate sample", []report.Sample{s, s}, report.ErrDuplicateSample},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := report.Build(report.Config{}, report.Env{}, tt.samples)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestWriteTable(t *testing.T) {
	cfg, samples := fixture()
	r, err := report.Build(cfg, report.Env{GoVersion: "go1.26.8", NumCPU: 2, Duration: "1m0s"}, samples)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, report.WriteTable(&buf, r))
	out := buf.String()
	for _, want := range []string{
		"go1.26.8", "3 rounds",
		"batch1-fresh           raft-wal",
		"11,000", "8,000..12,000",
		"3.33x", // keel-wal / raft-boltdb, batch1-fresh
		"200.00ms",
		"[met]    keel-wal batch-1 ops/s >= 2.0x raft-boltdb: 3.33",
		"[MISSED] keel-wal batch-1 ops/s >= 1.0x raft-wal: 0.91",
	} {
		require.Contains(t, out, want)
	}
}

func TestWriteJSONRoundTrips(t *testing.T) {
	cfg, samples := fixture()
	r, err := report.Build(cfg, report.Env{GoVersion: "go1.26.8"}, samples)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, report.WriteJSON(&buf, r))
	var back report.Report
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	require.Equal(t, r, back)
}
