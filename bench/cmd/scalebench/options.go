package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// errUsage marks invalid command-line input.
var errUsage = errors.New("usage")

// Systems this command knows, in table order.
const (
	systemKeel = "keel"
	systemEtcd = "etcd"
)

// knownSystems lists every value -systems accepts.
var knownSystems = []string{systemKeel, systemEtcd}

// minLagWrites is the smallest -lag-writes accepted: fewer writes than
// SnapshotThreshold (8192) plus TrailingLogs (1024) would not force the
// lagging follower onto a snapshot.
const minLagWrites = 10000

// maxBatch is the largest -batch: both systems cap a transaction at 128
// operations by default.
const maxBatch = 128

// options are the parsed flags. The same value, as JSON, configures a
// child process.
type options struct {
	// Systems are the systems to measure, in order.
	Systems []string `json:"systems"`
	// Keys is the number of keys loaded.
	Keys int `json:"keys"`
	// ValueBytes is the size of every value.
	ValueBytes int `json:"value_bytes"`
	// Batch is the number of puts per write: 1 means single puts, more
	// means one transaction of Batch puts.
	Batch int `json:"batch"`
	// Writers is the number of concurrent writers of the load.
	Writers int `json:"writers"`
	// LagWrites is the number of single puts written while a follower is
	// down in the snapshot-install step.
	LagWrites int `json:"lag_writes"`
	// Timeout bounds each child process.
	Timeout time.Duration `json:"timeout_ns"`
	// Dir is the parent of the run's temporary directory.
	Dir string `json:"dir"`
	// JSONPath, if set, is where the parent writes the results.
	JSONPath string `json:"-"`
}

// parseOptions parses args (without the program name). It returns
// flag.ErrHelp for -h and an error wrapping errUsage for bad input.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("scalebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	systems := fs.String("systems", strings.Join(knownSystems, ","), "comma-separated systems to measure: keel, etcd")
	fs.IntVar(&o.Keys, "keys", 1000000, "keys to load")
	fs.IntVar(&o.ValueBytes, "value", 64, "value size in bytes")
	fs.IntVar(&o.Batch, "batch", 100, "puts per write during the load: 1 = single puts, N = one txn of N puts")
	fs.IntVar(&o.Writers, "writers", 64, "concurrent writers during the load")
	fs.IntVar(&o.LagWrites, "lag-writes", 20000, "single puts written while a follower is down (snapshot-install step)")
	fs.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "time limit for each system's child process")
	fs.StringVar(&o.Dir, "dir", os.TempDir(), "parent directory for the members' data (a temporary directory is created and removed)")
	fs.StringVar(&o.JSONPath, "json", "", "also write the results as JSON to this path")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var err error
	if o.Systems, err = parseSystems(*systems); err != nil {
		return o, err
	}
	return o, o.validate()
}

// parseSystems splits a -systems value and checks every name.
func parseSystems(s string) ([]string, error) {
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(knownSystems, name) {
			return nil, fmt.Errorf("%w: -systems: unknown system %q (known: %s)", errUsage, name, strings.Join(knownSystems, ", "))
		}
		if slices.Contains(out, name) {
			return nil, fmt.Errorf("%w: -systems: %q given twice", errUsage, name)
		}
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: -systems: no system given", errUsage)
	}
	return out, nil
}

// validate reports the first out-of-range option.
func (o options) validate() error {
	switch {
	case o.Keys < 1:
		return fmt.Errorf("%w: -keys must be at least 1, got %d", errUsage, o.Keys)
	case o.Keys > 10000000:
		return fmt.Errorf("%w: -keys must be at most 10000000 (keys are \"key/%%07d\"), got %d", errUsage, o.Keys)
	case o.ValueBytes < 1:
		return fmt.Errorf("%w: -value must be at least 1, got %d", errUsage, o.ValueBytes)
	case o.ValueBytes > 1<<20:
		return fmt.Errorf("%w: -value must be at most 1 MiB, got %d", errUsage, o.ValueBytes)
	case o.Batch < 1 || o.Batch > maxBatch:
		return fmt.Errorf("%w: -batch must be in 1..%d, got %d", errUsage, maxBatch, o.Batch)
	case o.Batch*(o.ValueBytes+32) > 1<<20:
		return fmt.Errorf("%w: -batch %d x -value %d exceeds a 1 MiB request", errUsage, o.Batch, o.ValueBytes)
	case o.Writers < 1:
		return fmt.Errorf("%w: -writers must be at least 1, got %d", errUsage, o.Writers)
	case o.LagWrites < minLagWrites:
		return fmt.Errorf("%w: -lag-writes must be at least %d to force a snapshot, got %d", errUsage, minLagWrites, o.LagWrites)
	case o.Timeout <= 0:
		return fmt.Errorf("%w: -timeout must be positive, got %v", errUsage, o.Timeout)
	case o.Dir == "":
		return fmt.Errorf("%w: -dir must not be empty", errUsage)
	}
	return nil
}

// method describes how the load writes, for the table.
func (o options) method() string {
	if o.Batch == 1 {
		return fmt.Sprintf("single puts, %d writers", o.Writers)
	}
	return fmt.Sprintf("txns of %d puts, %d writers", o.Batch, o.Writers)
}
