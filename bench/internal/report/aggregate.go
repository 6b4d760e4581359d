package report

import (
	"fmt"
	"slices"
	"time"
)

// Median returns the median of xs (the mean of the two middle values for an
// even count), or 0 for an empty slice. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianDuration(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(Median(xs))
}

// key identifies a sample within a run.
type key struct {
	round int
	store string
	cell  Cell
}

// Build aggregates samples into a Report. cfg.Reference names the store the
// ratios and targets are about; cfg.Stores gives the store order of the
// tables. It returns ErrNoSamples if samples is empty.
func Build(cfg Config, env Env, samples []Sample) (Report, error) {
	if len(samples) == 0 {
		return Report{}, ErrNoSamples
	}
	byKey := make(map[key]Sample, len(samples))
	rounds := make(map[int]bool)
	stores := slices.Clone(cfg.Stores)
	for _, s := range samples {
		k := key{s.Round, s.Store, s.Cell}
		if _, dup := byKey[k]; dup {
			return Report{}, fmt.Errorf("%w: round %d store %s cell %s", ErrDuplicateSample, s.Round, s.Store, s.Cell)
		}
		byKey[k] = s
		rounds[s.Round] = true
		if !slices.Contains(stores, s.Store) {
			stores = append(stores, s.Store)
		}
	}
	roundList := make([]int, 0, len(rounds))
	for r := range rounds {
		roundList = append(roundList, r)
	}
	slices.Sort(roundList)

	r := Report{Config: cfg, Env: env, Samples: samples}
	for _, cell := range Cells() {
		for _, st := range stores {
			if sum, ok := summarize(byKey, roundList, st, cell); ok {
				r.Summaries = append(r.Summaries, sum)
			}
		}
	}
	for _, st := range stores {
		if tr, ok := truncation(byKey, roundList, st); ok {
			r.Truncations = append(r.Truncations, tr)
		}
	}
	for _, cell := range Cells() {
		for _, base := range stores {
			if base == cfg.Reference {
				continue
			}
			if ra, ok := ratio(byKey, roundList, cell, cfg.Reference, base); ok {
				r.Ratios = append(r.Ratios, ra)
			}
		}
	}
	r.Targets = Targets(r)
	return r, nil
}

func summarize(byKey map[key]Sample, rounds []int, store string, cell Cell) (Summary, bool) {
	var ops []float64
	var p50, p99 []time.Duration
	for _, rd := range rounds {
		s, ok := byKey[key{rd, store, cell}]
		if !ok {
			continue
		}
		ops = append(ops, s.Stats.OpsPerSec)
		p50 = append(p50, s.Stats.P50)
		p99 = append(p99, s.Stats.P99)
	}
	if len(ops) == 0 {
		return Summary{}, false
	}
	return Summary{
		Store: store, Cell: cell, Rounds: len(ops),
		OpsPerSec: Median(ops), MinOpsPerSec: slices.Min(ops), MaxOpsPerSec: slices.Max(ops),
		P50: medianDuration(p50), P99: medianDuration(p99),
	}, true
}

func truncation(byKey map[key]Sample, rounds []int, store string) (Truncation, bool) {
	var del []time.Duration
	var burst, disk, opsRatio, p99Ratio []float64
	for _, rd := range rounds {
		after, ok := byKey[key{rd, store, CellB1AfterTruncate}]
		if !ok || after.Truncate == nil || after.Burst == nil {
			continue
		}
		del = append(del, after.Truncate.Elapsed)
		if after.Burst.Elapsed > 0 {
			burst = append(burst, float64(after.Burst.Entries)/after.Burst.Elapsed.Seconds())
		}
		disk = append(disk, float64(after.DiskBytes))
		if fresh, ok := byKey[key{rd, store, CellB1Fresh}]; ok {
			if fresh.Stats.OpsPerSec > 0 {
				opsRatio = append(opsRatio, after.Stats.OpsPerSec/fresh.Stats.OpsPerSec)
			}
			if fresh.Stats.P99 > 0 {
				p99Ratio = append(p99Ratio, float64(after.Stats.P99)/float64(fresh.Stats.P99))
			}
		}
	}
	if len(del) == 0 {
		return Truncation{}, false
	}
	return Truncation{
		Store: store, DeleteRange: medianDuration(del), BurstOpsSec: Median(burst),
		DiskBytes: int64(Median(disk)), OpsAfterFresh: Median(opsRatio), P99AfterFresh: Median(p99Ratio),
	}, true
}

func ratio(byKey map[key]Sample, rounds []int, cell Cell, ref, base string) (Ratio, bool) {
	var ops, p99 []float64
	for _, rd := range rounds {
		a, okA := byKey[key{rd, ref, cell}]
		b, okB := byKey[key{rd, base, cell}]
		if !okA || !okB || b.Stats.OpsPerSec <= 0 || b.Stats.P99 <= 0 {
			continue
		}
		ops = append(ops, a.Stats.OpsPerSec/b.Stats.OpsPerSec)
		p99 = append(p99, float64(a.Stats.P99)/float64(b.Stats.P99))
	}
	if len(ops) == 0 {
		return Ratio{}, false
	}
	return Ratio{Cell: cell, Reference: ref, Baseline: base, Ops: Median(ops), P99: Median(p99), Rounds: len(ops)}, true
}
