package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSmoke runs the whole pipeline (parent, one child per target, report,
// JSON) with tiny counts and checks every cell has a value and every ratio
// is finite.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clusters in child processes")
	}
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "out.json")
	targets := []string{"keel-1", "etcd-direct-1", "raft-boltdb-1"}
	args := []string{
		"-w1", "50", "-w2", "200", "-w3", "200", "-w4", "200", "-w5", "40", "-keys", "100",
		"-targets", "keel-1,etcd-direct-1,raft-boltdb-1", "-rounds", "1", "-dir", dir, "-json", jsonPath,
		"-cpuprofile", filepath.Join(dir, "prof"), "-memprofile", filepath.Join(dir, "prof"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, &stdout, &stderr)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	t.Log("\n" + stdout.String())

	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep runReport
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Empty(t, rep.Failures)
	require.Len(t, rep.Samples, len(targets))
	for _, m := range metrics() {
		for _, target := range targets {
			c, ok := rep.cell(m.ID, target)
			require.True(t, ok, "no cell %s %s", m.ID, target)
			tg, _ := lookupTarget(target)
			if m.Workload != "" && !tg.supports(m.Workload) {
				require.True(t, c.NA, "%s %s should be n/a", m.ID, target)
				continue
			}
			require.Len(t, c.Values, 1, "%s %s", m.ID, target)
			if m.ID != "W5.conflicts" { // 40 increments may not conflict
				require.Positive(t, c.Value, "%s %s", m.ID, target)
			}
		}
	}
	require.NotEmpty(t, rep.Ratios)
	for _, r := range rep.Ratios {
		require.False(t, math.IsNaN(r.Value) || math.IsInf(r.Value, 0), "%s %s", r.Metric, r.Pair)
		require.Equal(t, "1 member", r.Pair)
	}
	for _, m := range metrics() {
		if !m.NoRatio {
			_, ok := rep.ratio(m.ID, "1 member")
			require.True(t, ok, "no ratio for %s", m.ID)
		}
	}
	for _, target := range targets {
		for _, kind := range []string{"cpu", "mem"} {
			require.FileExists(t, filepath.Join(dir, "prof", target+"-1-"+kind+".pprof"))
		}
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.Contains(t, []string{"out.json", "prof"}, e.Name(), "child left %s behind", e.Name())
	}
}

// TestChildFailure checks a failing child is reported with its stderr tail
// and makes run fail after printing the report and writing the JSON.
func TestChildFailure(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uses /proc as a directory nobody can create files in")
	}
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{
		"-targets", "keel-1", "-rounds", "1", "-workloads", "W1", "-dir", "/proc", "-json", jsonPath,
	}, &stdout, &stderr)
	require.ErrorIs(t, err, errChild)
	require.Contains(t, stdout.String(), "Failed child runs:")
	require.Contains(t, stdout.String(), "keel-1 round 1: exit status 1")
	require.Contains(t, stdout.String(), "mkdir /proc/keelbench-keel-1-")
	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep runReport
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Len(t, rep.Failures, 1)
	require.NotEmpty(t, rep.Failures[0].StderrTail)
}
