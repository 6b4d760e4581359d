package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	if os.Getenv(childEnv) != "" {
		code := childMain(ctx, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
}

// report is what -json writes.
type report struct {
	Options     options  `json:"options"`
	GoVersion   string   `json:"go_version"`
	NumCPU      int      `json:"num_cpu"`
	WallSeconds float64  `json:"wall_seconds"`
	Results     []result `json:"results"`
}

// run parses args, measures every system in its own child process (one
// after the other), prints the table to stdout and writes -json.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	base, err := os.MkdirTemp(o.Dir, "scalebench-")
	if err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(base); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove run dir: %w", rmErr))
		}
	}()
	rep := report{Options: o, GoVersion: runtime.Version(), NumCPU: runtime.NumCPU()}
	for _, system := range o.Systems {
		r, err := runChildProcess(ctx, o, system, base, stderr)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, r)
	}
	rep.WallSeconds = time.Since(start).Seconds()
	if err := writeTable(stdout, o, rep.Results); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wall time %.1fs (%s, %d CPUs)\n", rep.WallSeconds, rep.GoVersion, rep.NumCPU)
	if o.JSONPath != "" {
		if err := writeJSON(o.JSONPath, rep); err != nil {
			return err
		}
	}
	return nil
}

// writeJSON writes rep, indented, to path.
func writeJSON(path string, rep report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
