package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// resultMarker starts the stdout line that carries a child's JSON result,
// so that anything else a library prints on stdout cannot be mistaken
// for it.
const resultMarker = "KEELBENCH-RESULT "

// startupTimeout bounds starting a cluster and electing its leader.
const startupTimeout = 2 * time.Minute

// childResult is what a child reports to its parent.
type childResult struct {
	Target    string           `json:"target"`
	Round     int              `json:"round"`
	Startup   time.Duration    `json:"startup_ns"`
	Workloads []workloadResult `json:"workloads"`
}

// runChild runs every selected workload of o.Child on one fresh cluster
// under a fresh temporary directory and prints the result on stdout.
func runChild(ctx context.Context, o options, stdout, stderr io.Writer) (err error) {
	t, ok := lookupTarget(o.Child)
	if !ok {
		return fmt.Errorf("%w: unknown target %q", errUsage, o.Child)
	}
	dir, err := os.MkdirTemp(o.Dir, "keelbench-"+t.Name+"-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()

	started := time.Now()
	sctx, cancel := context.WithTimeout(ctx, startupTimeout)
	b, err := t.open(sctx, dir, t.Members)
	cancel()
	if err != nil {
		return fmt.Errorf("%s: start: %w", t.Name, err)
	}
	res := childResult{Target: t.Name, Round: o.Round, Startup: time.Since(started)}
	prof := &profiler{dirs: o.Profiles, name: fmt.Sprintf("%s-%d", t.Name, o.Round)}
	s := &session{b: b, counts: o.Counts, seed: o.Seed, round: o.Round, prof: prof}
	for _, w := range o.Workloads {
		if !t.supports(w) {
			res.Workloads = append(res.Workloads, workloadResult{Workload: w, NA: true})
			continue
		}
		r, err := s.run(ctx, w)
		if err != nil {
			return errors.Join(fmt.Errorf("%s %s: %w", t.Name, w, err), b.Close())
		}
		fmt.Fprintf(stderr, "keelbench child %s round %d: %s done (%.0f ops/s)\n", t.Name, o.Round, w, r.Stats.OpsPerSec)
		res.Workloads = append(res.Workloads, r)
	}
	if err := prof.finish(); err != nil {
		return errors.Join(fmt.Errorf("%s: profiles: %w", t.Name, err), b.Close())
	}
	if err := b.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", t.Name, err)
	}
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s%s\n", resultMarker, line)
	return err
}
