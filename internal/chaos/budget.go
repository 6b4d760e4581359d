package chaos

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// Environment variables read by the harness.
const (
	// EnvBudget sets a soak budget as a Go duration (KEEL_CHAOS=30m).
	EnvBudget = "KEEL_CHAOS"
	// EnvSeed fixes the base seed, to replay a failure (KEEL_CHAOS_SEED=42).
	EnvSeed = "KEEL_CHAOS_SEED"
	// EnvKeep keeps artifact directories even for passing tests when set
	// to a non-empty value.
	EnvKeep = "KEEL_CHAOS_KEEP"
)

// Budget returns the time budget of a chaos suite: the duration in
// KEEL_CHAOS with soak = true, or ciDefault with soak = false when it is
// unset. A value that is not a positive Go duration is an error wrapping
// ErrInvalidArgument.
func Budget(ciDefault time.Duration) (budget time.Duration, soak bool, err error) {
	v := os.Getenv(EnvBudget)
	if v == "" {
		return ciDefault, false, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, false, fmt.Errorf("%w: %s=%q is not a positive duration", ErrInvalidArgument, EnvBudget, v)
	}
	return d, true, nil
}

// Seed returns the base seed: KEEL_CHAOS_SEED if set, else one drawn from
// the clock. It logs the seed and how to replay it.
func Seed(t testing.TB) int64 {
	t.Helper()
	if v := os.Getenv(EnvSeed); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("chaos: %s=%q is not an integer", EnvSeed, v)
		}
		t.Logf("chaos: seed %d (from %s)", s, EnvSeed)
		return s
	}
	s := time.Now().UnixNano()
	t.Logf("chaos: seed %d (replay with %s=%d)", s, EnvSeed, s)
	return s
}

// LoopConfig bounds Loop.
type LoopConfig struct {
	// Runs is the number of runs; 0 means no count limit (Budget only).
	Runs int
	// Budget bounds the total time: no run starts after it has elapsed;
	// 0 means no time limit (Runs only).
	Budget time.Duration
	// Seed is the first run's seed; run i uses Seed+i.
	Seed int64
	// StopOnFailure stops after the first failed run (the default false
	// keeps going until Runs or Budget).
	StopOnFailure bool
}

// LoopResult reports what Loop ran.
type LoopResult struct {
	Runs    int           // runs started
	Failed  int           // runs that failed
	Elapsed time.Duration // total wall time
}

// Loop runs run as subtests "seed=<n>" until cfg.Runs runs were made or
// cfg.Budget is spent, whichever comes first. With neither bound set it
// runs once. It logs the totals.
func Loop(t *testing.T, cfg LoopConfig, run func(t *testing.T, seed int64)) LoopResult {
	t.Helper()
	if cfg.Runs <= 0 && cfg.Budget <= 0 {
		cfg.Runs = 1
	}
	start := time.Now()
	var res LoopResult
	for i := 0; cfg.Runs <= 0 || i < cfg.Runs; i++ {
		if cfg.Budget > 0 && time.Since(start) >= cfg.Budget {
			break
		}
		seed := cfg.Seed + int64(i)
		res.Runs++
		if !t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { run(t, seed) }) {
			res.Failed++
			if cfg.StopOnFailure {
				break
			}
		}
	}
	res.Elapsed = time.Since(start)
	t.Logf("chaos: %d runs (%d failed) in %v", res.Runs, res.Failed, res.Elapsed.Round(time.Millisecond))
	return res
}
