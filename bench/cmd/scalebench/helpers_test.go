package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func TestKeysAndValues(t *testing.T) {
	require.Equal(t, "key/0000042", loadKey(42))
	require.Equal(t, "lag/0000007", lagKey(7))
	tests := []struct {
		name string
		key  string
		size int
		want string
	}{
		{name: "padded", key: "key/0000001", size: 16, want: "key/0000001/xxxx"},
		{name: "cut", key: "key/0000001", size: 5, want: "key/0"},
		{name: "exact", key: "k", size: 2, want: "k/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, valueFor(tt.key, tt.size))
		})
	}
	require.Len(t, valueFor(loadKey(999999), 64), 64)
	require.NotEqual(t, valueFor(loadKey(1), 64), valueFor(loadKey(2), 64))
}

func TestBatches(t *testing.T) {
	tests := []struct {
		name     string
		n, size  int
		wantNum  int
		wantLast int // length of the last batch
	}{
		{name: "even", n: 10, size: 5, wantNum: 2, wantLast: 5},
		{name: "remainder", n: 11, size: 5, wantNum: 3, wantLast: 1},
		{name: "single puts", n: 3, size: 1, wantNum: 3, wantLast: 1},
		{name: "one short batch", n: 3, size: 100, wantNum: 1, wantLast: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.wantNum, numBatches(tt.n, tt.size))
			seen := 0
			for b := range tt.wantNum {
				kvs := batchAt(b, tt.size, tt.n, 8, loadKey)
				for _, p := range kvs {
					require.Equal(t, loadKey(seen), p.key)
					require.Equal(t, valueFor(p.key, 8), p.value)
					seen++
				}
				if b == tt.wantNum-1 {
					require.Len(t, kvs, tt.wantLast)
				}
			}
			require.Equal(t, tt.n, seen)
			require.Nil(t, batchAt(tt.wantNum, tt.size, tt.n, 8, loadKey))
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	status := []byte("Name:\tx\nVmHWM:\t  123456 kB\nVmRSS:\t   42 kB\nBad:\tzz kB\nEmpty:\n")
	require.Equal(t, uint64(123456), parseStatusKB(status, "VmHWM:"))
	require.Equal(t, uint64(42), parseStatusKB(status, "VmRSS:"))
	require.Zero(t, parseStatusKB(status, "VmSwap:"))
	require.Zero(t, parseStatusKB(status, "Bad:"))
	require.Zero(t, parseStatusKB(status, "Empty:"))
}

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), make([]byte, 10000), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "db"), make([]byte, 50000), 0o600))
	all, err := diskUsage(dir, "")
	require.NoError(t, err)
	without, err := diskUsage(dir, filepath.Join(dir, "db"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, all, int64(60000))
	require.GreaterOrEqual(t, all-without, int64(50000))
	missing, err := diskUsage(filepath.Join(dir, "nope"), "")
	require.NoError(t, err)
	require.Zero(t, missing)

	n, err := fileSize(filepath.Join(dir, "db"))
	require.NoError(t, err)
	require.Equal(t, int64(50000), n)
	n, err = fileSize(filepath.Join(dir, "nope"))
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestParseChildOutput(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    string
		wantErr bool
	}{
		{name: "last line", out: "noise\n{\"system\":\"keel\",\"keys\":3}\n", want: "keel"},
		{name: "empty", out: "", wantErr: true},
		{name: "not json", out: "panic: boom\n", wantErr: true},
		{name: "no system", out: "{\"keys\":3}\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseChildOutput([]byte(tt.out))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, r.System)
		})
	}
}

func TestFormatRatio(t *testing.T) {
	require.Equal(t, "0.50", formatRatio(1, 2))
	require.Equal(t, "-", formatRatio(1, 0))
	require.Equal(t, "yes", yesNo(true))
	require.Equal(t, "NO", yesNo(false))
}

func TestLogCaptureSlog(t *testing.T) {
	c := newLogCapture("compacting logs")
	before := time.Now()
	lg := newSlogLogger(c).With("component", "raft")
	lg.Info("compacting logs", "from", uint64(1), "to", uint64(90))
	lg.Info("compacting logs", "from", uint64(91), "to", uint64(120))
	lg.Info("other line", "to", uint64(1000))
	lg.Debug("compacting logs", "to", uint64(5000)) // below Info: not handled
	require.Len(t, c.since("compacting logs", before), 2)
	require.Empty(t, c.since("compacting logs", time.Now().Add(time.Second)))
	to, ok := c.maxUint("compacting logs", "to", before)
	require.True(t, ok)
	require.Equal(t, uint64(120), to)
	require.Equal(t, "raft", c.since("compacting logs", before)[0].attrs["component"])
	_, ok = c.maxUint("compacting logs", "missing", before)
	require.False(t, ok)
	require.False(t, slogHandler{c: c}.Enabled(context.Background(), slog.LevelDebug))
}

func TestLogCaptureZap(t *testing.T) {
	c := newLogCapture("compacted Raft logs")
	before := time.Now()
	lg := newZapLogger(c).With(zap.String("member", "m1"))
	lg.Debug("compacted Raft logs", zap.Uint64("compact-index", 7))
	lg.Info("compacted Raft logs", zap.Int64("compact-index", 9))
	lg.Info("unrelated", zap.Uint64("compact-index", 100))
	to, ok := c.maxUint("compacted Raft logs", "compact-index", before)
	require.True(t, ok)
	require.Equal(t, uint64(9), to)
	require.Equal(t, "m1", c.since("compacted Raft logs", before)[0].attrs["member"])
}

func TestAsUint(t *testing.T) {
	tests := []struct {
		in   any
		want uint64
		ok   bool
	}{
		{uint64(5), 5, true}, {int64(6), 6, true}, {int(7), 7, true}, {uint(8), 8, true},
		{uint32(9), 9, true}, {int32(10), 10, true}, {int64(-1), 0, false}, {"x", 0, false}, {nil, 0, false},
	}
	for _, tt := range tests {
		got, ok := asUint(tt.in)
		require.Equal(t, tt.ok, ok, "%v", tt.in)
		require.Equal(t, tt.want, got, "%v", tt.in)
	}
}
