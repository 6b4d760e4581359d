package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/keeldb/keel/bench/internal/watchload"
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
				require.Equal(t, 16, o.Writers)
				require.Equal(t, 2000, o.Puts)
				require.Equal(t, []int{1, 100, 10000}, o.Watchers)
				require.Equal(t, []watchload.Placement{watchload.PlaceSpread, watchload.PlaceFollower}, o.Placements)
				require.Equal(t, 256, o.ValueBytes)
				require.Equal(t, 10000, o.Idle)
				require.Equal(t, watchload.PlaceLeader, o.SlowPlacement)
				require.Equal(t, []string{"memory", "lag", "slow"}, o.Sections)
			},
		},
		{
			name: "explicit", args: []string{"-watchers", "5, 7", "-placements", "leader", "-sections", "lag", "-json", "x.json", "-slow-placement", "follower"},
			check: func(t *testing.T, o options) {
				require.Equal(t, []int{5, 7}, o.Watchers)
				require.Equal(t, []watchload.Placement{watchload.PlaceLeader}, o.Placements)
				require.Equal(t, []string{"lag"}, o.Sections)
				require.Equal(t, watchload.PlaceFollower, o.SlowPlacement)
				require.Equal(t, "x.json", o.JSONPath)
			},
		},
		{name: "zero writers", args: []string{"-writers", "0"}, wantErr: errUsage},
		{name: "value too small", args: []string{"-size", "7"}, wantErr: errUsage},
		{name: "bad watcher count", args: []string{"-watchers", "1,x"}, wantErr: errUsage},
		{name: "negative watcher count", args: []string{"-watchers", "-3"}, wantErr: errUsage},
		{name: "unknown placement", args: []string{"-placements", "moon"}, wantErr: watchload.ErrInvalidParams},
		{name: "unknown section", args: []string{"-sections", "cpu"}, wantErr: errUsage},
		{name: "no sections", args: []string{"-sections", ","}, wantErr: errUsage},
		{name: "zero timeout", args: []string{"-timeout", "0s"}, wantErr: errUsage},
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

// TestRunSmall runs every section with tiny counts and checks the table
// and the JSON report.
func TestRunSmall(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "out.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{
		"-writers", "4", "-puts", "100", "-watchers", "1,20", "-idle", "200",
		"-slow-puts", "100", "-slow-rounds", "1", "-heartbeat", "500ms",
		"-dir", dir, "-json", jsonPath,
	}, &stdout, &stderr)
	require.NoError(t, err, "stderr: %s", stderr.String())
	out := stdout.String()
	for _, want := range []string{"Idle watchers on", "bytes/watcher", "Delivery lag", "p99", "Slow consumer isolation", "median"} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "INCOMPLETE")

	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var res result
	require.NoError(t, json.Unmarshal(b, &res))
	require.NotNil(t, res.Memory)
	require.Equal(t, 200, res.Memory.Watchers)
	require.Len(t, res.Lag, 4, "2 counts x 2 placements")
	for _, l := range res.Lag {
		require.True(t, l.Complete)
		require.Equal(t, int64(100*l.Watchers), l.Delivered)
	}
	require.NotNil(t, res.Slow)
	require.Len(t, res.Slow.Rounds, 1)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the cluster directory is removed; only the JSON remains")
}
