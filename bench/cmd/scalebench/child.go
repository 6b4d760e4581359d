package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// childEnv is the environment variable that turns this binary into a child
// process measuring one system; its value is a childSpec as JSON.
const childEnv = "SCALEBENCH_CHILD"

// childSpec tells a child what to measure.
type childSpec struct {
	// System is the system to measure.
	System string `json:"system"`
	// Options are the parent's options.
	Options options `json:"options"`
	// Dir is the run's directory; the child works in a new directory
	// under it and removes that directory at the end.
	Dir string `json:"dir"`
}

// childMain runs a child process: it reads the spec from childEnv, runs
// the system's steps, writes the result as one JSON line to stdout and
// progress to stderr. It returns the process exit code.
func childMain(ctx context.Context, stdout, stderr io.Writer) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &spec); err != nil {
		fmt.Fprintf(stderr, "scalebench child: bad %s: %v\n", childEnv, err)
		return 2
	}
	r, err := runChild(ctx, spec, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "scalebench child %s: %v\n", spec.System, err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(r); err != nil {
		fmt.Fprintf(stderr, "scalebench child %s: write result: %v\n", spec.System, err)
		return 1
	}
	return 0
}

// runChild runs spec's system in a fresh directory under spec.Dir.
func runChild(ctx context.Context, spec childSpec, progress io.Writer) (r result, err error) {
	dir, err := os.MkdirTemp(spec.Dir, spec.System+"-")
	if err != nil {
		return r, fmt.Errorf("create data dir: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove data dir: %w", rmErr))
		}
	}()
	return runSystem(ctx, spec.Options, spec.System, dir, progress)
}

// runChildProcess re-executes this binary as a child measuring system and
// returns its result with the child's peak RSS. The child's progress goes
// to stderr.
func runChildProcess(ctx context.Context, o options, system, dir string, stderr io.Writer) (result, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, fmt.Errorf("find own executable: %w", err)
	}
	spec, err := json.Marshal(childSpec{System: system, Options: o, Dir: dir})
	if err != nil {
		return result{}, fmt.Errorf("encode child spec: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return result{}, fmt.Errorf("%s child: %w (after -timeout %v)", system, err, o.Timeout)
		}
		return result{}, fmt.Errorf("%s child: %w", system, err)
	}
	r, err := parseChildOutput(out.Bytes())
	if err != nil {
		return result{}, fmt.Errorf("%s child: %w", system, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSS = uint64(ru.Maxrss) * 1024 // KiB on Linux
	}
	return r, nil
}

// parseChildOutput decodes the last non-empty line of a child's stdout.
func parseChildOutput(out []byte) (result, error) {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	last := lines[len(lines)-1]
	if len(last) == 0 {
		return result{}, errors.New("no result on stdout")
	}
	var r result
	if err := json.Unmarshal(last, &r); err != nil {
		return result{}, fmt.Errorf("decode result %q: %w", truncate(string(last), 200), err)
	}
	if r.System == "" {
		return result{}, fmt.Errorf("result without a system: %q", truncate(string(last), 200))
	}
	return r, nil
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
