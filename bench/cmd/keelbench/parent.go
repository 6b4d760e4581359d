package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// stderrTailBytes is how much of a child's stderr the parent keeps.
const stderrTailBytes = 16 << 10

// stderrTailLines is how many lines of it a failure report shows.
const stderrTailLines = 20

// sample is one child run: one target in one round.
type sample struct {
	Target    string           `json:"target"`
	Round     int              `json:"round"`
	Wall      time.Duration    `json:"wall_ns"`
	Startup   time.Duration    `json:"startup_ns"`
	MaxRSSKiB int64            `json:"max_rss_kib"`
	Workloads []workloadResult `json:"workloads,omitempty"`
	// Err is set when the child failed; StderrTail then holds the end
	// of its stderr.
	Err        string `json:"error,omitempty"`
	StderrTail string `json:"stderr_tail,omitempty"`
}

// failed reports whether the child failed.
func (s sample) failed() bool { return s.Err != "" }

// workload returns the sample's result for w.
func (s sample) workload(w workloadID) (workloadResult, bool) {
	for _, r := range s.Workloads {
		if r.Workload == w {
			return r, true
		}
	}
	return workloadResult{}, false
}

// runParent runs every round, each target in its own child process, then
// prints the report and writes it as JSON.
func runParent(ctx context.Context, o options, exe string, stdout, stderr io.Writer) error {
	started := time.Now()
	if fi, err := os.Stat(o.Dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: -dir %q is not a directory", errUsage, o.Dir)
	}
	for _, d := range []string{o.Profiles.CPU, o.Profiles.Mem, o.Profiles.Mutex, o.Profiles.Block, o.Profiles.Trace} {
		if d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
	}
	jsonPath := o.JSONPath
	if jsonPath == "" {
		jsonPath = defaultJSONPath(started)
	}
	e := collectEnv(o, started)
	fmt.Fprintf(stderr, "keelbench: %d round(s) of %s; seed %d; data under %s\n", o.Rounds, strings.Join(o.Targets, ", "), o.Seed, o.Dir)
	var samples []sample
rounds:
	for round := 1; round <= o.Rounds; round++ {
		for _, t := range rotate(o.Targets, round-1) {
			if ctx.Err() != nil {
				break rounds
			}
			s := runOne(ctx, o, exe, t, round)
			samples = append(samples, s)
			status := "ok"
			if s.failed() {
				status = "FAILED: " + s.Err
			}
			fmt.Fprintf(stderr, "keelbench: round %d/%d %-14s %6.1fs  peak RSS %4d MiB  %s\n",
				round, o.Rounds, t, s.Wall.Seconds(), s.MaxRSSKiB/1024, status)
		}
	}
	e.finish(time.Now())
	rep := buildReport(o, e, samples)
	if err := writeReport(stdout, rep); err != nil {
		return err
	}
	if err := writeJSON(jsonPath, rep); err != nil {
		return fmt.Errorf("write %s: %w", jsonPath, err)
	}
	fmt.Fprintf(stdout, "\nJSON: %s\n", jsonPath)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if n := len(rep.Failures); n > 0 {
		return fmt.Errorf("%w: %d of %d child runs failed", errChild, n, len(samples))
	}
	return nil
}

// rotate returns xs rotated left by k.
func rotate(xs []string, k int) []string {
	if len(xs) == 0 {
		return nil
	}
	k %= len(xs)
	return append(append([]string(nil), xs[k:]...), xs[:k]...)
}

// runOne runs one child and collects its result, peak RSS and, on failure,
// its stderr tail.
func runOne(ctx context.Context, o options, exe, target string, round int) sample {
	s := sample{Target: target, Round: round}
	ctx, cancel := context.WithTimeout(ctx, o.ChildTimeout)
	defer cancel()
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: stderrTailBytes}
	cmd := exec.CommandContext(ctx, exe, childArgs(o, target, round)...)
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	s.Wall = time.Since(start)
	if cmd.ProcessState != nil {
		s.MaxRSSKiB = maxRSSKiB(cmd.ProcessState)
	}
	if err == nil {
		var res childResult
		if err = parseChildResult(stdout.Bytes(), &res); err == nil {
			s.Workloads, s.Startup = res.Workloads, res.Startup
			return s
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w (child timeout %v)", err, o.ChildTimeout)
	}
	s.Err = err.Error()
	s.StderrTail = lastLines(stderr.String(), stderrTailLines)
	return s
}

// parseChildResult finds the result line in a child's stdout.
func parseChildResult(out []byte, res *childResult) error {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), resultMarker); ok {
			return json.Unmarshal([]byte(line), res)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w: no result line on stdout", errChild)
}

// tailBuffer keeps roughly the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

// Write implements io.Writer.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns what the buffer holds.
func (t *tailBuffer) String() string { return string(t.buf) }

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// defaultJSONPath is bench/results/keelbench-<timestamp>.json when the
// current directory is inside the bench module (or is its parent), else
// keelbench-<timestamp>.json in the current directory.
func defaultJSONPath(t time.Time) string {
	name := "keelbench-" + t.Format("20060102-150405") + ".json"
	dir, err := os.Getwd()
	if err != nil {
		return name
	}
	if b := filepath.Join(dir, "bench"); isBenchModule(b) {
		return filepath.Join(b, "results", name)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if isBenchModule(d) {
			return filepath.Join(d, "results", name)
		}
		if filepath.Dir(d) == d {
			return name
		}
	}
}

// isBenchModule reports whether dir holds the bench module's go.mod.
func isBenchModule(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && bytes.HasPrefix(b, []byte("module github.com/keeldb/keel/bench\n"))
}

// writeJSON writes v as indented JSON to path, creating its directory.
func writeJSON(path string, v any) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
