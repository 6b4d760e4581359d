package main

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/bench/internal/workload"
)

// w1Sample returns a sample of target in round with W1 at ops ops/s and
// the given peak RSS.
func w1Sample(target string, round int, ops float64, rssKiB int64) sample {
	return sample{Target: target, Round: round, MaxRSSKiB: rssKiB, Workloads: []workloadResult{{
		Workload: workloadW1,
		Stats:    workload.Stats{Calls: 10, Entries: 10, Elapsed: time.Second, OpsPerSec: ops, P99: time.Duration(ops) * time.Microsecond},
		CPU:      time.Duration(ops) * time.Millisecond, // ops/10 ms per put
	}}}
}

func metricByID(t *testing.T, id string) metric {
	for _, m := range metrics() {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("no metric %s", id)
	return metric{}
}

func TestAggregate(t *testing.T) {
	naSample := sample{Target: "raft-boltdb-3", Round: 1, Workloads: []workloadResult{{Workload: workloadW3, NA: true}}}
	tests := []struct {
		name    string
		metric  string
		target  string
		samples []sample
		wantOK  bool
		want    float64
		wantNA  bool
	}{
		{
			name: "median of odd rounds", metric: "W1.ops", target: "keel-3",
			samples: []sample{w1Sample("keel-3", 1, 300, 1), w1Sample("keel-3", 2, 100, 1), w1Sample("keel-3", 3, 200, 1)},
			wantOK:  true, want: 200,
		},
		{
			name: "median of even rounds", metric: "W1.ops", target: "keel-3",
			samples: []sample{w1Sample("keel-3", 1, 100, 1), w1Sample("keel-3", 2, 200, 1)},
			wantOK:  true, want: 150,
		},
		{
			name: "latency in ms", metric: "W1.p99", target: "keel-3",
			samples: []sample{w1Sample("keel-3", 1, 2000, 1)},
			wantOK:  true, want: 2,
		},
		{
			name: "rss is the max over rounds in MiB", metric: "rss", target: "keel-3",
			samples: []sample{w1Sample("keel-3", 1, 1, 1024), w1Sample("keel-3", 2, 1, 3072), w1Sample("keel-3", 3, 1, 2048)},
			wantOK:  true, want: 3,
		},
		{
			name: "other targets are ignored", metric: "W1.ops", target: "keel-3",
			samples: []sample{w1Sample("keel-3", 1, 100, 1), w1Sample("etcd-direct-3", 1, 900, 1)},
			wantOK:  true, want: 100,
		},
		{
			name: "failed rounds are skipped", metric: "W1.ops", target: "keel-3",
			samples: []sample{w1Sample("keel-3", 1, 100, 1), {Target: "keel-3", Round: 2, Err: "boom"}},
			wantOK:  true, want: 100,
		},
		{
			name: "only failures", metric: "W1.ops", target: "keel-3",
			samples: []sample{{Target: "keel-3", Round: 1, Err: "boom"}},
		},
		{
			name: "workload not run", metric: "W2.ops", target: "keel-3",
			samples: []sample{w1Sample("keel-3", 1, 100, 1)},
		},
		{
			name: "not applicable", metric: "W3.ops", target: "raft-boltdb-3",
			samples: []sample{naSample}, wantOK: true, wantNA: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := aggregate(metricByID(t, tt.metric), tt.target, tt.samples)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.wantNA, c.NA)
			if tt.wantOK && !tt.wantNA {
				require.InDelta(t, tt.want, c.Value, 1e-9)
			}
		})
	}
}

func TestPairRatio(t *testing.T) {
	p := pair{Name: "3 members", Keel: "keel-3", Etcd: "etcd-direct-3"}
	tests := []struct {
		name    string
		metric  string
		samples []sample
		wantOK  bool
		want    float64
		values  int
	}{
		{
			name: "per round then median", metric: "W1.ops",
			samples: []sample{
				w1Sample("keel-3", 1, 200, 1), w1Sample("etcd-direct-3", 1, 100, 1), // 2.0
				w1Sample("keel-3", 2, 300, 1), w1Sample("etcd-direct-3", 2, 100, 1), // 3.0
				w1Sample("keel-3", 3, 100, 1), w1Sample("etcd-direct-3", 3, 400, 1), // 0.25
			},
			wantOK: true, want: 2, values: 3,
		},
		{
			name: "not the ratio of medians", metric: "W1.ops",
			samples: []sample{
				w1Sample("keel-3", 1, 100, 1), w1Sample("etcd-direct-3", 1, 100, 1), // 1.0
				w1Sample("keel-3", 2, 400, 1), w1Sample("etcd-direct-3", 2, 100, 1), // 4.0
			},
			wantOK: true, want: 2.5, values: 2,
		},
		{
			name: "rounds missing on one side are skipped", metric: "W1.ops",
			samples: []sample{
				w1Sample("keel-3", 1, 200, 1), w1Sample("etcd-direct-3", 1, 100, 1),
				w1Sample("keel-3", 2, 900, 1), {Target: "etcd-direct-3", Round: 2, Err: "boom"},
			},
			wantOK: true, want: 2, values: 1,
		},
		{
			name: "rss ratio per round", metric: "rss",
			samples: []sample{w1Sample("keel-3", 1, 1, 1024), w1Sample("etcd-direct-3", 1, 1, 4096)},
			wantOK:  true, want: 0.25, values: 1,
		},
		{
			name: "zero baseline gives no ratio", metric: "W1.ops",
			samples: []sample{w1Sample("keel-3", 1, 200, 1), w1Sample("etcd-direct-3", 1, 0, 1)},
		},
		{
			name: "no etcd samples", metric: "W1.ops",
			samples: []sample{w1Sample("keel-3", 1, 200, 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := pairRatio(metricByID(t, tt.metric), p, tt.samples)
			require.Equal(t, tt.wantOK, ok)
			if !ok {
				return
			}
			require.InDelta(t, tt.want, r.Value, 1e-9)
			require.Len(t, r.Values, tt.values)
			require.False(t, math.IsInf(r.Value, 0) || math.IsNaN(r.Value))
		})
	}
}

func TestBuildReportChecks(t *testing.T) {
	withLag := func(s sample, p99 time.Duration) sample {
		s.Workloads = append(s.Workloads, workloadResult{Workload: workloadW4, Lag: &lagStats{Received: 1, P99: p99}})
		return s
	}
	tests := []struct {
		name    string
		targets []string
		samples []sample
		want    map[string]string // goal metric -> PASS, MISS or n/a
	}{
		{
			name:    "pass and miss",
			targets: []string{"keel-3", "etcd-direct-3"},
			samples: []sample{
				withLag(w1Sample("keel-3", 1, 150, 100), time.Millisecond),
				withLag(w1Sample("etcd-direct-3", 1, 100, 200), 4*time.Millisecond),
			},
			want: map[string]string{"W1.ops": "PASS", "W2.ops": "n/a", "W3.ops": "n/a", "W4.lag_p99": "PASS", "rss": "PASS"},
		},
		{
			name:    "misses",
			targets: []string{"keel-3", "etcd-direct-3"},
			samples: []sample{
				withLag(w1Sample("keel-3", 1, 90, 300), 3*time.Millisecond),
				withLag(w1Sample("etcd-direct-3", 1, 100, 200), 4*time.Millisecond),
			},
			want: map[string]string{"W1.ops": "MISS", "W4.lag_p99": "MISS", "rss": "MISS"},
		},
		{
			name:    "thresholds are inclusive",
			targets: []string{"keel-3", "etcd-direct-3"},
			samples: []sample{
				withLag(w1Sample("keel-3", 1, 100, 200), 2*time.Millisecond),
				withLag(w1Sample("etcd-direct-3", 1, 100, 200), 4*time.Millisecond),
			},
			want: map[string]string{"W1.ops": "PASS", "W4.lag_p99": "PASS", "rss": "PASS"},
		},
		{
			name:    "no etcd target",
			targets: []string{"keel-3"},
			samples: []sample{w1Sample("keel-3", 1, 100, 200)},
			want:    map[string]string{"W1.ops": "n/a", "rss": "n/a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := buildReport(options{Rounds: 1, Targets: tt.targets}, env{}, tt.samples)
			for _, c := range rep.Checks {
				want, ok := tt.want[c.Metric]
				if !ok {
					continue
				}
				got := "n/a"
				if c.Evaluated {
					got = "MISS"
					if c.Met {
						got = "PASS"
					}
				}
				require.Equal(t, want, got, c.Name)
			}
		})
	}
}
