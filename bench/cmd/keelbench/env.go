package main

import (
	"os"
	"runtime"
	"strings"
	"time"
)

// env records where and when a run happened.
type env struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	Kernel     string `json:"kernel"`
	Started    string `json:"started"`
	Duration   string `json:"duration"`
	Seed       uint64 `json:"seed"`
	LoadStart  string `json:"loadavg_start"`
	LoadEnd    string `json:"loadavg_end"`

	started time.Time
}

// collectEnv describes this machine at the start of a run.
func collectEnv(o options, started time.Time) env {
	return env{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), Kernel: kernel(),
		Started: started.Format(time.RFC3339), Seed: o.Seed, LoadStart: loadAvg(), started: started,
	}
}

// finish records the run's end.
func (e *env) finish(end time.Time) {
	e.Duration = end.Sub(e.started).Round(time.Second).String()
	e.LoadEnd = loadAvg()
}

// kernel returns the kernel release, or "n/a" where /proc does not tell.
func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "n/a"
	}
	return runtime.GOOS + " " + strings.TrimSpace(string(b))
}

// loadAvg returns the first three fields of /proc/loadavg, or "n/a".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}
