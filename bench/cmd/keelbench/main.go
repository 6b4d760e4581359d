package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "keelbench:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "keelbench:", err)
		os.Exit(1)
	}
}

// run is the whole command: a child run when -child is given, else the
// parent that runs every round and target.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.Child != "" {
		return runChild(ctx, o, stdout, stderr)
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return runParent(ctx, o, exe, stdout, stderr)
}

// counts are the operation counts of the workloads.
type counts struct {
	W1   int `json:"w1_puts"`
	W2   int `json:"w2_puts"`
	W3   int `json:"w3_gets"`
	W4   int `json:"w4_puts"`
	W5   int `json:"w5_increments"`
	Keys int `json:"w3_keys"`
}

// profileDirs are the directories children write pprof profiles to; empty
// means that kind is off.
type profileDirs struct {
	CPU   string `json:"cpu,omitempty"`
	Mem   string `json:"mem,omitempty"`
	Mutex string `json:"mutex,omitempty"`
	Block string `json:"block,omitempty"`
	Trace string `json:"trace,omitempty"`
}

func (p profileDirs) any() bool {
	return p.CPU != "" || p.Mem != "" || p.Mutex != "" || p.Block != "" || p.Trace != ""
}

// options are the parsed flags. Child and Round are set only in a child.
type options struct {
	Rounds       int           `json:"rounds"`
	Targets      []string      `json:"targets"`
	Workloads    []workloadID  `json:"workloads"`
	Counts       counts        `json:"counts"`
	Seed         uint64        `json:"seed"`
	Dir          string        `json:"dir"`
	JSONPath     string        `json:"-"`
	Profiles     profileDirs   `json:"profiles"`
	ChildTimeout time.Duration `json:"child_timeout_ns"`
	Child        string        `json:"-"`
	Round        int           `json:"-"`
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("keelbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o                   options
		targets, workloads  string
		seed                string
		defaultTargets      = strings.Join(targetNames(), ",")
		defaultWorkloadList = joinWorkloads(allWorkloads())
	)
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds; each round runs every target once")
	fs.StringVar(&targets, "targets", defaultTargets, "comma-separated targets")
	fs.StringVar(&workloads, "workloads", defaultWorkloadList, "comma-separated workloads, run in the order W1,W2,W3,W3s,W4,W5")
	fs.IntVar(&o.Counts.W1, "w1", 2000, "W1: sequential puts")
	fs.IntVar(&o.Counts.W2, "w2", 20000, "W2: puts by 64 concurrent writers")
	fs.IntVar(&o.Counts.W3, "w3", 50000, "W3/W3s: gets by 64 concurrent readers")
	fs.IntVar(&o.Counts.W4, "w4", 10000, "W4: watched puts by 16 writers")
	fs.IntVar(&o.Counts.W5, "w5", 4000, "W5: successful compare-and-swap increments by 16 clients")
	fs.IntVar(&o.Counts.Keys, "keys", 10000, "W3/W3s: preloaded keys")
	fs.StringVar(&seed, "seed", "0", "random seed for key choice (0 = from the clock; printed)")
	fs.StringVar(&o.Dir, "dir", os.TempDir(), "parent of each child's temporary data directory")
	fs.StringVar(&o.JSONPath, "json", "", "JSON output path (default bench/results/keelbench-<timestamp>.json)")
	fs.StringVar(&o.Profiles.CPU, "cpuprofile", "", "directory for <target>-<round>-cpu.pprof (timed parts only)")
	fs.StringVar(&o.Profiles.Mem, "memprofile", "", "directory for <target>-<round>-mem.pprof (heap after the last timed part)")
	fs.StringVar(&o.Profiles.Mutex, "mutexprofile", "", "directory for <target>-<round>-mutex.pprof (timed parts only)")
	fs.StringVar(&o.Profiles.Block, "blockprofile", "", "directory for <target>-<round>-block.pprof (timed parts only)")
	fs.StringVar(&o.Profiles.Trace, "trace", "", "directory for <target>-<round>-trace-<part>.out (runtime/trace of each timed part; go tool trace)")
	fs.DurationVar(&o.ChildTimeout, "child-timeout", 10*time.Minute, "kill a child that runs longer than this")
	fs.StringVar(&o.Child, "child", "", "internal: run one target in this process")
	fs.IntVar(&o.Round, "round", 0, "internal: the child's round")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if o.Rounds <= 0 {
		return o, fmt.Errorf("%w: -rounds must be positive, got %d", errUsage, o.Rounds)
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"w1", o.Counts.W1}, {"w2", o.Counts.W2}, {"w3", o.Counts.W3}, {"w4", o.Counts.W4}, {"w5", o.Counts.W5}, {"keys", o.Counts.Keys}} {
		if c.v <= 0 {
			return o, fmt.Errorf("%w: -%s must be positive, got %d", errUsage, c.name, c.v)
		}
	}
	if o.ChildTimeout <= 0 {
		return o, fmt.Errorf("%w: -child-timeout must be positive", errUsage)
	}
	n, err := strconv.ParseUint(seed, 10, 64)
	if err != nil {
		return o, fmt.Errorf("%w: -seed: %q is not an unsigned integer", errUsage, seed)
	}
	o.Seed = n
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Targets, err = parseTargets(targets); err != nil {
		return o, err
	}
	if o.Workloads, err = parseWorkloads(workloads); err != nil {
		return o, err
	}
	if o.Child != "" {
		if _, ok := lookupTarget(o.Child); !ok {
			return o, fmt.Errorf("%w: -child: unknown target %q", errUsage, o.Child)
		}
	}
	return o, nil
}

// usage prints the flags except the hidden ones the parent passes to its
// children.
func usage(fs *flag.FlagSet) {
	hidden := []string{"child", "round"}
	out := fs.Output()
	fmt.Fprintln(out, "Usage: keelbench [flags]\n\nCompares Keel with embedded etcd and hashicorp/raft + raft-boltdb.\n\nFlags:")
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(hidden, f.Name) {
			return
		}
		def := ""
		if f.DefValue != "" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(out, "  -%s\n    \t%s%s\n", f.Name, f.Usage, def)
	})
}

// splitList splits a comma-separated list, dropping empty fields.
func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseTargets(s string) ([]string, error) {
	var out []string
	for _, name := range splitList(s) {
		if _, ok := lookupTarget(name); !ok {
			return nil, fmt.Errorf("%w: -targets: unknown target %q (known: %s)", errUsage, name, strings.Join(targetNames(), ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: -targets: no target given", errUsage)
	}
	return out, nil
}

func parseWorkloads(s string) ([]workloadID, error) {
	want := map[workloadID]bool{}
	for _, f := range splitList(s) {
		w, ok := parseWorkload(f)
		if !ok {
			return nil, fmt.Errorf("%w: -workloads: unknown workload %q (known: %s)", errUsage, f, joinWorkloads(allWorkloads()))
		}
		want[w] = true
	}
	var out []workloadID
	for _, w := range allWorkloads() {
		if want[w] {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: -workloads: no workload given", errUsage)
	}
	return out, nil
}

// childArgs returns the command line of the child that runs target in
// round: the parent's options, made explicit.
func childArgs(o options, target string, round int) []string {
	names := make([]string, len(o.Workloads))
	for i, w := range o.Workloads {
		names[i] = string(w)
	}
	return []string{
		"-child", target, "-round", strconv.Itoa(round),
		"-targets", target, "-workloads", strings.Join(names, ","),
		"-w1", strconv.Itoa(o.Counts.W1), "-w2", strconv.Itoa(o.Counts.W2), "-w3", strconv.Itoa(o.Counts.W3),
		"-w4", strconv.Itoa(o.Counts.W4), "-w5", strconv.Itoa(o.Counts.W5), "-keys", strconv.Itoa(o.Counts.Keys),
		"-seed", strconv.FormatUint(o.Seed, 10), "-dir", o.Dir,
		"-cpuprofile", o.Profiles.CPU, "-memprofile", o.Profiles.Mem,
		"-mutexprofile", o.Profiles.Mutex, "-blockprofile", o.Profiles.Block, "-trace", o.Profiles.Trace,
	}
}
