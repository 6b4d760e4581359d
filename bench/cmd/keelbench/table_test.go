package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormatValue(t *testing.T) {
	tests := []struct {
		name string
		unit unit
		v    float64
		want string
	}{
		{name: "ops small", unit: unitOps, v: 999.4, want: "999"},
		{name: "ops thousands", unit: unitOps, v: 1234567.6, want: "1,234,568"},
		{name: "ops zero", unit: unitOps, v: 0, want: "0"},
		{name: "sub-ms latency", unit: unitLatency, v: 0.0234, want: "0.023"},
		{name: "ms latency", unit: unitLatency, v: 4.567, want: "4.57"},
		{name: "long latency", unit: unitLatency, v: 1234.5, want: "1234"},
		{name: "percent", unit: unitPercent, v: 45.25, want: "45.2%"},
		{name: "MiB", unit: unitMiB, v: 152.6, want: "153"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, formatValue(tt.unit, tt.v)) })
	}
}

func TestThousands(t *testing.T) {
	tests := []struct {
		name string
		n    int64
		want string
	}{
		{name: "zero", n: 0, want: "0"},
		{name: "three digits", n: 123, want: "123"},
		{name: "four digits", n: 1234, want: "1,234"},
		{name: "seven digits", n: 1234567, want: "1,234,567"},
		{name: "negative", n: -12345, want: "-12,345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, thousands(tt.n)) })
	}
}

func TestFormatTable(t *testing.T) {
	got := formatTable([][]string{{"metric", "a", "bbbb"}, {"long label", "12", "3"}})
	require.Equal(t, "metric       a  bbbb\nlong label  12     3\n", got)
}

func TestTableRows(t *testing.T) {
	samples := []sample{
		w1Sample("keel-3", 1, 2000, 2048), w1Sample("etcd-direct-3", 1, 1000, 4096),
		{Target: "raft-boltdb-3", Round: 1, Workloads: []workloadResult{{Workload: workloadW3, NA: true}}},
		{Target: "keel-1", Round: 1, Err: "exit status 1", StderrTail: "panic: boom"},
	}
	o := options{Rounds: 1, Targets: []string{"keel-1", "keel-3", "etcd-direct-3", "raft-boltdb-3"}, Workloads: allWorkloads()}
	rep := buildReport(o, env{}, samples)
	rows := tableRows(rep)
	require.Equal(t, []string{"metric", "keel-1", "keel-3", "etcd-direct-3", "raft-boltdb-3", "keel/etcd 3m"}, rows[0])
	byLabel := map[string][]string{}
	for _, r := range rows[1:] {
		require.Len(t, r, len(rows[0]), r[0])
		byLabel[r[0]] = r
	}
	tests := []struct {
		name  string
		label string
		want  []string
	}{
		{name: "ops with ratio and a failed target", label: "W1 seq put ops/s", want: []string{"FAIL", "2,000", "1,000", "-", "2.00x"}},
		{name: "latency row", label: "W1 put p99 ms", want: []string{"FAIL", "2.00", "1.00", "-", "2.00x"}},
		{name: "CPU per operation", label: "W1 CPU µs/put", want: []string{"FAIL", "200000.0", "100000.0", "-", "2.00x"}},
		{name: "not applicable", label: "W3 lin get ops/s", want: []string{"FAIL", "-", "-", "n/a", ""}},
		{name: "rss", label: "peak RSS (max)", want: []string{"FAIL", "2", "4", "-", "0.50x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := byLabel[tt.label]
			require.True(t, ok, "no row %q", tt.label)
			require.Equal(t, tt.want, r[1:])
		})
	}
	o.Workloads = []workloadID{workloadW1}
	rows = tableRows(buildReport(o, env{}, samples))
	require.Len(t, rows, 5, "header, W1 ops, W1 p99, W1 CPU, RSS")

	var out bytes.Buffer
	require.NoError(t, writeReport(&out, rep))
	require.Contains(t, out.String(), "keel-1 round 1: exit status 1")
	require.Contains(t, out.String(), "| panic: boom")
	require.True(t, strings.Contains(out.String(), "PASS  W1 sequential put ops/s"), out.String())
}
