package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/keeldb/keel/bench/internal/logstore"
	"github.com/keeldb/keel/bench/internal/report"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr error
		check   func(t *testing.T, o options)
	}{
		{
			name: "defaults", args: nil,
			check: func(t *testing.T, o options) {
				require.Equal(t, 5, o.cfg.Rounds)
				require.Equal(t, 256, o.cfg.EntryBytes)
				require.Equal(t, 2000, o.cfg.Batch1Calls)
				require.Equal(t, 1000, o.cfg.Batch64Call)
				require.Equal(t, 64, o.cfg.Batch64)
				require.Equal(t, 300000, o.cfg.Burst)
				require.Equal(t, uint64(10000), o.cfg.Keep)
				require.NotZero(t, o.cfg.Seed, "a zero seed is replaced")
				require.Equal(t, logstore.KeelWALName, o.cfg.Reference)
				require.Equal(t, logstore.Names(logstore.Default()), o.cfg.Stores)
			},
		},
		{
			name: "explicit", args: []string{"-rounds", "1", "-seed", "9", "-stores", "raft-wal,inmem", "-json", "x.json"},
			check: func(t *testing.T, o options) {
				require.Equal(t, 1, o.cfg.Rounds)
				require.Equal(t, uint64(9), o.cfg.Seed)
				require.Equal(t, []string{"raft-wal", "inmem"}, o.cfg.Stores)
				require.Equal(t, "x.json", o.jsonPath)
			},
		},
		{name: "zero rounds", args: []string{"-rounds", "0"}, wantErr: errUsage},
		{name: "negative batch", args: []string{"-batch1", "-5"}, wantErr: errUsage},
		{name: "negative warmup", args: []string{"-warmup", "-1"}, wantErr: errUsage},
		{name: "keep not below burst", args: []string{"-burst", "100", "-keep", "100"}, wantErr: errUsage},
		{name: "keep zero", args: []string{"-keep", "0"}, wantErr: errUsage},
		{name: "unknown store", args: []string{"-stores", "rocksdb"}, wantErr: logstore.ErrUnknownStore},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: errUsage},
		{name: "stray argument", args: []string{"extra"}, wantErr: errUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, &bytes.Buffer{})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, o)
		})
	}
}

func TestRotate(t *testing.T) {
	fs, err := logstore.Lookup("keel-wal,raft-boltdb,raft-wal")
	require.NoError(t, err)
	tests := []struct {
		name string
		k    int
		want []string
	}{
		{"none", 0, []string{"keel-wal", "raft-boltdb", "raft-wal"}},
		{"one", 1, []string{"raft-boltdb", "raft-wal", "keel-wal"}},
		{"wraps", 4, []string{"raft-boltdb", "raft-wal", "keel-wal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, logstore.Names(rotate(fs, tt.k)))
		})
	}
	require.Nil(t, rotate(nil, 3))
}

// TestRunEndToEnd runs a tiny comparison and checks the table, the JSON and
// that every temporary store directory is removed.
func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{
		"-stores", "raft-wal,raft-boltdb,inmem", "-ref", "raft-wal", "-rounds", "2",
		"-batch1", "20", "-batch64", "5", "-warmup", "2", "-burst", "2000", "-burst-batch", "100",
		"-keep", "100", "-dir", dir, "-json", jsonPath, "-seed", "1",
	}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())

	out := stdout.String()
	require.Contains(t, out, "2 rounds")
	require.Contains(t, out, "batch1-after-truncate  raft-boltdb")
	require.Contains(t, out, "Ratios raft-wal / baseline")
	require.Contains(t, out, "raft-wal batch-1 ops/s >= 2.0x raft-boltdb")

	raw, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep report.Report
	require.NoError(t, json.Unmarshal(raw, &rep))
	require.Len(t, rep.Samples, 2*3*len(report.Cells()))
	require.Len(t, rep.Summaries, 3*len(report.Cells()))
	for _, s := range rep.Samples {
		require.Positive(t, s.Stats.OpsPerSec, "%+v", s)
		if s.Cell == report.CellB1AfterTruncate {
			require.NotNil(t, s.Truncate)
			require.Equal(t, uint64(1900), s.Truncate.Max)
			require.Equal(t, uint64(1901), s.Truncate.First)
		}
	}
	// Round 2 starts with the second store.
	require.Equal(t, "raft-boltdb", rep.Samples[3*len(report.Cells())].Store)

	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left, "store directories must be removed")
}

func TestRunRejectsBadFlags(t *testing.T) {
	err := run(context.Background(), []string{"-rounds", "-1"}, &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorIs(t, err, errUsage)
}

func TestRunStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"-stores", "inmem", "-dir", t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorIs(t, err, context.Canceled)
}
