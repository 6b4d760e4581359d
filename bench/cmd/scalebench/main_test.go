package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain doubles as the child process: runChildProcess re-executes the
// test binary with childEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(context.Background(), os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// TestRunSmall runs the whole command, both systems in child processes,
// with 2,000 keys, and checks that every figure is there.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two 3-member clusters in child processes (~1 min)")
	}
	dir := t.TempDir()
	jsonPath := filepath.Join(t.TempDir(), "scale.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-keys", "2000", "-dir", dir, "-json", jsonPath, "-timeout", "4m"}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	t.Logf("table:\n%s", stdout.String())

	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Len(t, rep.Results, 2)
	for i, system := range knownSystems {
		r := rep.Results[i]
		require.Equal(t, system, r.System)
		require.Equal(t, 2000, r.Keys)
		for _, m := range metrics {
			v := m.Value(r)
			if m.MayBeZero {
				require.GreaterOrEqual(t, v, 0.0, "%s: %s", system, m.Name)
				continue
			}
			require.Greater(t, v, 0.0, "%s: %s", system, m.Name)
			require.Contains(t, stdout.String(), m.Name)
		}
		require.True(t, r.LeaderCompacted, "%s: leader compacted past the follower", system)
		require.True(t, r.SnapshotInstalled, "%s: follower installed a snapshot", system)
		require.True(t, r.JoinSnapshotInstalled, "%s: joiner installed a snapshot", system)
		require.Greater(t, r.JoinSnapshotBytes, int64(0), "%s: joiner's snapshot size", system)
		require.GreaterOrEqual(t, r.JoinLinearizable, r.JoinSnapshotSeconds, "%s: served after installing the snapshot", system)
		require.Greater(t, r.WallSeconds, 0.0)
	}
	require.Contains(t, stdout.String(), "keel/etcd")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "the run directory is removed")
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr error
		check   func(t *testing.T, o options)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, o options) {
				require.Equal(t, []string{"keel", "etcd"}, o.Systems)
				require.Equal(t, 1000000, o.Keys)
				require.Equal(t, 64, o.ValueBytes)
				require.Equal(t, 100, o.Batch)
				require.Equal(t, 64, o.Writers)
				require.Equal(t, 20000, o.LagWrites)
				require.Equal(t, 15*time.Minute, o.Timeout)
				require.Equal(t, os.TempDir(), o.Dir)
				require.Empty(t, o.JSONPath)
				require.Equal(t, "txns of 100 puts, 64 writers", o.method())
			},
		},
		{
			name: "explicit",
			args: []string{"-systems", " etcd ,keel", "-keys", "5", "-value", "8", "-batch", "1", "-writers", "3", "-dir", "/x", "-json", "o.json"},
			check: func(t *testing.T, o options) {
				require.Equal(t, []string{"etcd", "keel"}, o.Systems)
				require.Equal(t, 5, o.Keys)
				require.Equal(t, 8, o.ValueBytes)
				require.Equal(t, "/x", o.Dir)
				require.Equal(t, "o.json", o.JSONPath)
				require.Equal(t, "single puts, 3 writers", o.method())
			},
		},
		{name: "one system", args: []string{"-systems", "keel"}, check: func(t *testing.T, o options) { require.Equal(t, []string{"keel"}, o.Systems) }},
		{name: "unknown system", args: []string{"-systems", "keel,zk"}, wantErr: errUsage},
		{name: "duplicate system", args: []string{"-systems", "keel,keel"}, wantErr: errUsage},
		{name: "no system", args: []string{"-systems", " , "}, wantErr: errUsage},
		{name: "zero keys", args: []string{"-keys", "0"}, wantErr: errUsage},
		{name: "too many keys", args: []string{"-keys", "10000001"}, wantErr: errUsage},
		{name: "zero value", args: []string{"-value", "0"}, wantErr: errUsage},
		{name: "batch too large", args: []string{"-batch", "129"}, wantErr: errUsage},
		{name: "batch too many bytes", args: []string{"-batch", "128", "-value", "65536"}, wantErr: errUsage},
		{name: "zero writers", args: []string{"-writers", "0"}, wantErr: errUsage},
		{name: "too few lag writes", args: []string{"-lag-writes", "9999"}, wantErr: errUsage},
		{name: "zero timeout", args: []string{"-timeout", "0s"}, wantErr: errUsage},
		{name: "empty dir", args: []string{"-dir", ""}, wantErr: errUsage},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: errUsage},
		{name: "bad number", args: []string{"-keys", "many"}, wantErr: errUsage},
		{name: "stray argument", args: []string{"extra"}, wantErr: errUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, &bytes.Buffer{})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, o)
		})
	}
}

func TestWriteTable(t *testing.T) {
	o, err := parseOptions([]string{"-keys", "10"}, &bytes.Buffer{})
	require.NoError(t, err)
	keel := result{System: "keel", Keys: 10, LoadSeconds: 2, SnapshotInstalled: true, LeaderCompacted: true,
		JoinLinearizable: 1.5, JoinVoter: 3, JoinSnapshotInstalled: true}
	etcd := result{System: "etcd", Keys: 10, LoadSeconds: 4, LeaderCompacted: true,
		JoinLinearizable: 2, JoinVoter: 1.5, JoinSnapshotInstalled: true}
	var b bytes.Buffer
	require.NoError(t, writeTable(&b, o, []result{keel, etcd}))
	out := b.String()
	require.Regexp(t, `metric +keel +etcd +keel/etcd`, out)
	require.Regexp(t, `load time \(s\) +2\.0 +4\.0 +0\.50`, out)
	require.Regexp(t, `load retries +0 +0 +-`, out)
	require.Regexp(t, `follower installed a snapshot +yes +NO`, out)
	require.Regexp(t, `joiner installed a snapshot +yes +yes`, out)
	require.Regexp(t, `fresh member joins -> linearizable get \(s\) +1\.500 +2\.000 +0\.75`, out)
	require.Regexp(t, `fresh member joins -> voter \(s\) +3\.000 +1\.500 +2\.00`, out)
	require.Contains(t, out, "10 keys, 64-byte values, txns of 100 puts, 64 writers")
	require.Contains(t, out, "then m4 joins")

	b.Reset()
	require.NoError(t, writeTable(&b, o, []result{etcd}))
	require.NotContains(t, b.String(), "keel/etcd")
	require.Len(t, strings.Split(strings.TrimSpace(b.String()), "\n"), len(metrics)+5)
}
