// Command walbench compares raft log stores on StoreLogs throughput and
// latency, in one process, interleaving the stores round-robin.
//
// Usage:
//
//	go run ./cmd/walbench [flags]
//
// It prints a table of medians over rounds, the reference store's per-round
// ratios against every other store, the burst+truncation figures, and the
// issue #2 targets; -json also writes everything, raw samples included. See
// README.md for what each cell measures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"time"

	"github.com/keeldb/keel/bench/internal/logstore"
	"github.com/keeldb/keel/bench/internal/report"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "walbench:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "walbench:", err)
		os.Exit(1)
	}
}

// errUsage marks invalid command-line input.
var errUsage = errors.New("usage")

// options are the parsed flags.
type options struct {
	cfg      report.Config
	stores   []logstore.Factory
	jsonPath string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("walbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o      options
		stores string
		c      = &o.cfg
	)
	fs.IntVar(&c.Rounds, "rounds", 5, "rounds; every store runs every cell once per round")
	fs.IntVar(&c.EntryBytes, "size", 256, "payload bytes per entry")
	fs.IntVar(&c.Batch1Calls, "batch1", 2000, "timed StoreLogs calls of 1 entry per batch-1 cell")
	fs.IntVar(&c.Batch64Call, "batch64", 1000, "timed StoreLogs calls per batch-64 cell")
	fs.IntVar(&c.Batch64, "batch64-size", 64, "entries per call in the batch-64 cell")
	fs.IntVar(&c.WarmupCalls, "warmup", 20, "untimed calls before each timed loop")
	fs.IntVar(&c.Burst, "burst", 300000, "entries appended before the head truncation")
	fs.IntVar(&c.BurstBatch, "burst-batch", 64, "entries per StoreLogs call during the burst")
	fs.Uint64Var(&c.Keep, "keep", 10000, "entries kept by the head truncation: DeleteRange(first, last-keep)")
	fs.Uint64Var(&c.Seed, "seed", 0, "payload seed; 0 picks one from the clock (printed)")
	fs.StringVar(&c.Dir, "dir", os.TempDir(), "parent of the per-store temporary directories (pick the disk to measure)")
	fs.StringVar(&c.Reference, "ref", logstore.KeelWALName, "store the ratios and targets are computed for")
	fs.StringVar(&stores, "stores", "", "comma-separated stores (default: all on-disk stores); known: "+fmt.Sprint(logstore.Names(logstore.All())))
	fs.StringVar(&o.jsonPath, "json", "", "also write the full report as JSON to this path")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	for name, v := range map[string]int{
		"rounds": c.Rounds, "size": c.EntryBytes, "batch1": c.Batch1Calls, "batch64": c.Batch64Call,
		"batch64-size": c.Batch64, "burst": c.Burst, "burst-batch": c.BurstBatch,
	} {
		if v <= 0 {
			return o, fmt.Errorf("%w: -%s must be positive, got %d", errUsage, name, v)
		}
	}
	if c.WarmupCalls < 0 {
		return o, fmt.Errorf("%w: -warmup must not be negative", errUsage)
	}
	if c.Keep == 0 || c.Keep >= uint64(c.Burst) {
		return o, fmt.Errorf("%w: -keep must be in [1, burst), got %d with -burst %d", errUsage, c.Keep, c.Burst)
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	var err error
	if stores == "" {
		o.stores = logstore.Default()
	} else if o.stores, err = logstore.Lookup(stores); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	c.Stores = logstore.Names(o.stores)
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	env := report.Env{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), Started: time.Now(),
	}
	fmt.Fprintf(stderr, "walbench: seed %d, stores %v, %d rounds, dir %s\n", o.cfg.Seed, o.cfg.Stores, o.cfg.Rounds, o.cfg.Dir)
	r := runner{cfg: o.cfg, stores: o.stores, progress: stderr}
	samples, err := r.run(ctx)
	if err != nil {
		return err
	}
	env.Duration = time.Since(env.Started).Round(time.Second).String()
	rep, err := report.Build(o.cfg, env, samples)
	if err != nil {
		return err
	}
	if err := report.WriteTable(stdout, rep); err != nil {
		return err
	}
	if o.jsonPath != "" {
		if err := writeJSONFile(o.jsonPath, rep); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "walbench: wrote %s\n", o.jsonPath)
	}
	return nil
}

func writeJSONFile(path string, rep report.Report) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return report.WriteJSON(f, rep)
}
