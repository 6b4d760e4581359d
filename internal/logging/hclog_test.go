package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHCLogLevels(t *testing.T) {
	tests := []struct {
		name  string
		min   slog.Level
		log   func(l hclog.Logger)
		wants string
		skips bool
	}{
		{name: "info passes at info", min: slog.LevelInfo, log: func(l hclog.Logger) { l.Info("hello", "k", 1) }, wants: "level=INFO msg=hello component=raft k=1"},
		{name: "debug dropped at info", min: slog.LevelInfo, log: func(l hclog.Logger) { l.Debug("quiet") }, skips: true},
		{name: "warn passes at info", min: slog.LevelInfo, log: func(l hclog.Logger) { l.Warn("careful") }, wants: "level=WARN msg=careful"},
		{name: "error with implied args", min: slog.LevelInfo, log: func(l hclog.Logger) { l.With("peer", "n2").Error("boom") }, wants: "level=ERROR msg=boom component=raft peer=n2"},
		{name: "trace below debug", min: slog.LevelDebug, log: func(l hclog.Logger) { l.Trace("fine") }, skips: true},
		{name: "named component", min: slog.LevelInfo, log: func(l hclog.Logger) { l.Named("snap").Info("x") }, wants: "component=raft.snap"},
		{name: "standard writer", min: slog.LevelInfo, log: func(l hclog.Logger) { l.StandardLogger(nil).Print("std line") }, wants: "msg=\"std line\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			sl := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.min}))
			tc.log(HCLog(sl, "raft"))
			if tc.skips {
				require.Empty(t, buf.String())
				return
			}
			require.Contains(t, buf.String(), tc.wants)
		})
	}
}

func TestHCLogSetLevelAndNil(t *testing.T) {
	var buf bytes.Buffer
	l := HCLog(slog.New(slog.NewTextHandler(&buf, nil)), "")
	l.SetLevel(hclog.Error)
	require.Equal(t, hclog.Error, l.GetLevel())
	l.Warn("dropped")
	require.False(t, l.IsWarn())
	require.True(t, l.IsError())
	l.Error("kept")
	require.Equal(t, 1, strings.Count(buf.String(), "\n"))
	require.Contains(t, buf.String(), "kept")

	d := HCLog(nil, "x")
	d.Error("nothing happens")
	require.False(t, d.IsError())
}
