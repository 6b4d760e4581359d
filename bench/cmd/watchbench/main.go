// Command watchbench measures Keel watches (issue #4) on a 3-member
// cluster running in this process on loopback:
//
//   - delivery lag, p50/p99/max from a Put being issued to each watcher
//     receiving its event, with concurrent writers and 1, 100 and 10,000
//     watchers on one prefix, spread over the members or on one follower;
//   - heap and goroutines per idle watcher;
//   - slow-consumer isolation: write throughput and a fast watcher's
//     delivery rate with and without one watcher that never reads.
//
// Usage:
//
//	go run ./cmd/watchbench [flags]
//
// It prints a table and, with -json, writes everything as JSON. See
// README.md for what each figure means.
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
	"strconv"
	"strings"
	"time"

	"github.com/keeldb/keel/bench/internal/watchload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "watchbench:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "watchbench:", err)
		os.Exit(1)
	}
}

// errUsage marks invalid command-line input.
var errUsage = errors.New("usage")

// options are the parsed flags.
type options struct {
	Writers       int                   `json:"writers"`
	Puts          int                   `json:"puts"`
	Watchers      []int                 `json:"watchers"`
	Placements    []watchload.Placement `json:"placements"`
	ValueBytes    int                   `json:"value_bytes"`
	Idle          int                   `json:"idle_watchers"`
	SlowPuts      int                   `json:"slow_puts"`
	SlowRounds    int                   `json:"slow_rounds"`
	SlowPlacement watchload.Placement   `json:"slow_placement"`
	Timeout       time.Duration         `json:"timeout_ns"`
	Heartbeat     time.Duration         `json:"heartbeat_ns"`
	BufferSize    int                   `json:"watch_buffer_size"`
	Sections      []string              `json:"sections"`
	Dir           string                `json:"-"`
	JSONPath      string                `json:"-"`
}

func (o options) has(section string) bool {
	for _, s := range o.Sections {
		if s == section {
			return true
		}
	}
	return false
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("watchbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o                                   options
		watchers, placements, slowPl, parts string
	)
	fs.IntVar(&o.Writers, "writers", 16, "concurrent writers (writer w writes through member w mod 3)")
	fs.IntVar(&o.Puts, "puts", 2000, "puts per delivery-lag cell")
	fs.StringVar(&watchers, "watchers", "1,100,10000", "comma-separated watcher counts of the lag cells")
	fs.StringVar(&placements, "placements", "spread,follower", "comma-separated watcher placements of the lag cells: spread, follower, leader")
	fs.IntVar(&o.ValueBytes, "size", 256, "value bytes per put")
	fs.IntVar(&o.Idle, "idle", 10000, "idle watchers created for the memory measurement")
	fs.IntVar(&o.SlowPuts, "slow-puts", 5000, "puts per slow-consumer run")
	fs.IntVar(&o.SlowRounds, "slow-rounds", 5, "slow-consumer with/without pairs")
	fs.StringVar(&slowPl, "slow-placement", "leader", "member of the fast and the stalled watcher: leader, follower")
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "per cell, how long to wait for delivery after the last put")
	fs.DurationVar(&o.Heartbeat, "heartbeat", 0, "members' HeartbeatTimeout (0 = Keel's default, 1s)")
	fs.IntVar(&o.BufferSize, "buffer", 0, "members' WatchBufferSize (0 = Keel's default, 64)")
	fs.StringVar(&parts, "sections", "memory,lag,slow", "sections to run, comma-separated: memory, lag, slow")
	fs.StringVar(&o.Dir, "dir", os.TempDir(), "parent of the cluster's temporary directory")
	fs.StringVar(&o.JSONPath, "json", "", "also write the full report as JSON to this path")
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
		"writers": o.Writers, "puts": o.Puts, "idle": o.Idle, "slow-puts": o.SlowPuts, "slow-rounds": o.SlowRounds,
	} {
		if v <= 0 {
			return o, fmt.Errorf("%w: -%s must be positive, got %d", errUsage, name, v)
		}
	}
	if o.ValueBytes < watchload.StampBytes {
		return o, fmt.Errorf("%w: -size must be at least %d", errUsage, watchload.StampBytes)
	}
	if o.Timeout <= 0 || o.Heartbeat < 0 || o.BufferSize < 0 {
		return o, fmt.Errorf("%w: -timeout must be positive, -heartbeat and -buffer not negative", errUsage)
	}
	var err error
	if o.Watchers, err = parseCounts(watchers); err != nil {
		return o, err
	}
	for _, s := range splitList(placements) {
		p, err := watchload.ParsePlacement(s)
		if err != nil {
			return o, fmt.Errorf("%w: %w", errUsage, err)
		}
		o.Placements = append(o.Placements, p)
	}
	if o.SlowPlacement, err = watchload.ParsePlacement(slowPl); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	for _, s := range splitList(parts) {
		switch s {
		case "memory", "lag", "slow":
			o.Sections = append(o.Sections, s)
		default:
			return o, fmt.Errorf("%w: unknown section %q", errUsage, s)
		}
	}
	if len(o.Sections) == 0 || (o.has("lag") && (len(o.Watchers) == 0 || len(o.Placements) == 0)) {
		return o, fmt.Errorf("%w: nothing to run", errUsage)
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: -watchers: %q is not a positive count", errUsage, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// env describes where and when the run happened.
type env struct {
	GoVersion   string `json:"go_version"`
	GOOS        string `json:"goos"`
	GOARCH      string `json:"goarch"`
	NumCPU      int    `json:"num_cpu"`
	Started     string `json:"started"`
	Duration    string `json:"duration"`
	LoadStart   string `json:"loadavg_start"`
	LoadEnd     string `json:"loadavg_end"`
	Leader      string `json:"leader_at_start"`
	FollowerFor string `json:"follower_placement_member"`
}

// result is everything one run measured.
type result struct {
	Env     env                     `json:"env"`
	Options options                 `json:"options"`
	Memory  *watchload.MemoryResult `json:"memory,omitempty"`
	Lag     []watchload.LagResult   `json:"lag,omitempty"`
	Slow    *watchload.SlowResult   `json:"slow,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	started := time.Now()
	res := result{Options: o, Env: env{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(),
		Started: started.Format(time.RFC3339), LoadStart: loadAvg(),
	}}
	fmt.Fprintf(stderr, "watchbench: starting a 3-member cluster under %s (load average %s)\n", o.Dir, res.Env.LoadStart)
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	c, err := watchload.StartCluster(sctx, watchload.ClusterConfig{
		Dir: o.Dir, HeartbeatTimeout: o.Heartbeat, WatchBufferSize: o.BufferSize,
	})
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	res.Env.Leader = c.Members[max(c.Leader(), 0)].ID()
	res.Env.FollowerFor = c.Members[c.Follower()].ID()
	clock := watchload.NewClock()

	if o.has("memory") {
		m := c.Members[c.Follower()]
		fmt.Fprintf(stderr, "watchbench: memory: %d idle watchers on %s\n", o.Idle, m.ID())
		mr, err := watchload.MeasureIdle(ctx, m, "idle/", o.Idle)
		if err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		res.Memory = &mr
	}
	if o.has("lag") {
		for _, pl := range o.Placements {
			for _, n := range o.Watchers {
				fmt.Fprintf(stderr, "watchbench: lag: %d watchers (%s), %d writers, %d puts\n", n, pl, o.Writers, o.Puts)
				lr, err := watchload.RunLag(ctx, c, clock, watchload.LagParams{
					Writers: o.Writers, Puts: o.Puts, Watchers: n, Placement: pl, ValueBytes: o.ValueBytes,
					Prefix: fmt.Sprintf("lag/%s/%d/", pl, n), Timeout: o.Timeout,
				})
				if err != nil {
					return fmt.Errorf("lag %d %s: %w", n, pl, err)
				}
				res.Lag = append(res.Lag, lr)
			}
		}
	}
	if o.has("slow") {
		fmt.Fprintf(stderr, "watchbench: slow consumer: %d rounds of %d puts (%s)\n", o.SlowRounds, o.SlowPuts, o.SlowPlacement)
		sr, err := watchload.RunSlow(ctx, c, clock, watchload.SlowParams{
			Writers: o.Writers, Puts: o.SlowPuts, ValueBytes: o.ValueBytes, Rounds: o.SlowRounds,
			Placement: o.SlowPlacement, Prefix: "slow/", Timeout: o.Timeout,
		})
		if err != nil {
			return fmt.Errorf("slow consumer: %w", err)
		}
		res.Slow = &sr
	}
	res.Env.Duration = time.Since(started).Round(time.Second).String()
	res.Env.LoadEnd = loadAvg()
	if err := writeTable(stdout, res); err != nil {
		return err
	}
	if o.JSONPath != "" {
		if err := writeJSONFile(o.JSONPath, res); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "watchbench: wrote %s\n", o.JSONPath)
	}
	return c.Close()
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

func writeJSONFile(path string, res result) (err error) {
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
	return enc.Encode(res)
}
