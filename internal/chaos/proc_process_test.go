package chaos_test

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/chaos"
)

const envHelper = "KEEL_PROC_HELPER"

// TestProcessHelper is a child for TestProcess: it waits for SIGTERM and
// exits cleanly. Without envHelper it returns at once.
func TestProcessHelper(t *testing.T) {
	if os.Getenv(envHelper) == "" {
		return
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	defer signal.Stop(ch)
	select {
	case <-ch:
	case <-time.After(time.Minute): // never outlive a lost harness
	}
}

func startHelper(t *testing.T) *chaos.Process {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	p, err := chaos.StartProcess(exe, []string{"-test.run=^TestProcessHelper$"}, []string{envHelper + "=1"}, filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	t.Cleanup(func() { p.Kill() })
	return p
}

func TestProcess(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, p *chaos.Process)
	}{
		{name: "kill once", run: func(t *testing.T, p *chaos.Process) {
			require.True(t, p.Kill())
			exited, err := p.Exited()
			require.True(t, exited)
			require.Error(t, err, "killed by a signal")
			require.False(t, p.Kill(), "a reaped pid is never signalled")
			require.False(t, p.Pause())
		}},
		{name: "pause and resume", run: func(t *testing.T, p *chaos.Process) {
			require.True(t, p.Pause())
			require.True(t, p.Paused())
			require.True(t, p.Resume())
			require.False(t, p.Paused())
		}},
		{name: "stop paused cleanly", run: func(t *testing.T, p *chaos.Process) {
			require.True(t, p.Pause())
			require.True(t, p.Stop(30*time.Second), "SIGCONT then SIGTERM: exits without SIGKILL")
			select {
			case <-p.Done():
			default:
				t.Fatal("Stop returned before the child was reaped")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startHelper(t)
			require.Positive(t, p.Pid())
			tc.run(t, p)
		})
	}
}

func TestStartProcessFails(t *testing.T) {
	_, err := chaos.StartProcess(filepath.Join(t.TempDir(), "missing"), nil, nil, filepath.Join(t.TempDir(), "log"))
	require.ErrorIs(t, err, chaos.ErrSetup)
}
