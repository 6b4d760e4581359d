package main

import (
	"math"
	"slices"
	"time"

	"github.com/keeldb/keel/bench/internal/report"
)

// unit says how a metric's values are printed.
type unit string

// Units.
const (
	unitOps     unit = "ops/s"
	unitLatency unit = "ms"
	unitMiB     unit = "MiB"
	unitPercent unit = "%"
	unitMicros  unit = "µs"
)

// metric is one row of the table: a value read from each sample.
type metric struct {
	// ID names the metric in JSON, e.g. "W1.ops".
	ID string
	// Label is the row's label in the table.
	Label string
	// Workload is the workload the value comes from; "" for values of the
	// whole child (peak RSS).
	Workload workloadID
	Unit     unit
	// Max aggregates rounds with the maximum instead of the median.
	Max bool
	// NoRatio hides the Keel/etcd ratio for this row.
	NoRatio bool
	value   func(sample, workloadResult) (float64, bool)
}

func latency(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func statOps(_ sample, r workloadResult) (float64, bool) {
	return r.Stats.OpsPerSec, r.Stats.Elapsed > 0
}
func statP99(_ sample, r workloadResult) (float64, bool) {
	return latency(r.Stats.P99), r.Stats.Calls > 0
}

// statCPU is the process's CPU time per timed operation, in microseconds:
// what an operation costs the machine, whatever the latency.
func statCPU(_ sample, r workloadResult) (float64, bool) {
	return float64(r.CPU) / float64(time.Microsecond) / float64(r.Stats.Calls), r.CPU > 0 && r.Stats.Calls > 0
}

// metrics lists the table's rows in order.
func metrics() []metric {
	lag := func(get func(*lagStats) time.Duration) func(sample, workloadResult) (float64, bool) {
		return func(_ sample, r workloadResult) (float64, bool) {
			if r.Lag == nil {
				return 0, false
			}
			return latency(get(r.Lag)), true
		}
	}
	return []metric{
		{ID: "W1.ops", Label: "W1 seq put ops/s", Workload: workloadW1, Unit: unitOps, value: statOps},
		{ID: "W1.p99", Label: "W1 put p99", Workload: workloadW1, Unit: unitLatency, value: statP99},
		{ID: "W1.cpu", Label: "W1 CPU µs/put", Workload: workloadW1, Unit: unitMicros, value: statCPU},
		{ID: "W2.ops", Label: "W2 64w put ops/s", Workload: workloadW2, Unit: unitOps, value: statOps},
		{ID: "W2.p99", Label: "W2 put p99", Workload: workloadW2, Unit: unitLatency, value: statP99},
		{ID: "W2.cpu", Label: "W2 CPU µs/put", Workload: workloadW2, Unit: unitMicros, value: statCPU},
		{ID: "W3.ops", Label: "W3 lin get ops/s", Workload: workloadW3, Unit: unitOps, value: statOps},
		{ID: "W3.p99", Label: "W3 get p99", Workload: workloadW3, Unit: unitLatency, value: statP99},
		{ID: "W3.cpu", Label: "W3 CPU µs/get", Workload: workloadW3, Unit: unitMicros, value: statCPU},
		{ID: "W3s.ops", Label: "W3s ser get ops/s", Workload: workloadW3s, Unit: unitOps, value: statOps},
		{ID: "W3s.p99", Label: "W3s get p99", Workload: workloadW3s, Unit: unitLatency, value: statP99},
		{ID: "W4.ops", Label: "W4 watched put ops/s", Workload: workloadW4, Unit: unitOps, value: statOps},
		{ID: "W4.cpu", Label: "W4 CPU µs/put", Workload: workloadW4, Unit: unitMicros, value: statCPU},
		{ID: "W4.lag_p50", Label: "W4 lag p50", Workload: workloadW4, Unit: unitLatency, value: lag(func(l *lagStats) time.Duration { return l.P50 })},
		{ID: "W4.lag_p99", Label: "W4 lag p99", Workload: workloadW4, Unit: unitLatency, value: lag(func(l *lagStats) time.Duration { return l.P99 })},
		{ID: "W4.lag_max", Label: "W4 lag max", Workload: workloadW4, Unit: unitLatency, value: lag(func(l *lagStats) time.Duration { return l.Max })},
		{ID: "W5.ops", Label: "W5 CAS incr/s", Workload: workloadW5, Unit: unitOps, value: statOps},
		{ID: "W5.p99", Label: "W5 incr p99", Workload: workloadW5, Unit: unitLatency, value: statP99},
		{ID: "W5.conflicts", Label: "W5 conflict ratio", Workload: workloadW5, Unit: unitPercent, NoRatio: true,
			value: func(_ sample, r workloadResult) (float64, bool) { return 100 * r.ConflictRatio, r.Attempts > 0 }},
		{ID: "rss", Label: "peak RSS (max)", Unit: unitMiB, Max: true,
			value: func(s sample, _ workloadResult) (float64, bool) { return float64(s.MaxRSSKiB) / 1024, s.MaxRSSKiB > 0 }},
	}
}

// pair is a Keel target and the etcd target it is compared with.
type pair struct {
	Name string `json:"name"`
	// Short labels the pair's table column.
	Short string `json:"-"`
	Keel  string `json:"keel"`
	Etcd  string `json:"etcd"`
}

// pairs lists the ratio columns: Keel/etcd-direct for 3 and 1 members.
func pairs() []pair {
	return []pair{
		{Name: "3 members", Short: "3m", Keel: "keel-3", Etcd: "etcd-direct-3"},
		{Name: "1 member", Short: "1m", Keel: "keel-1", Etcd: "etcd-direct-1"},
	}
}

// goal is one target of the comparison, evaluated on a pair's ratio.
type goal struct {
	Name   string `json:"name"`
	Metric string `json:"metric"`
	Pair   string `json:"pair"`
	// AtLeast means ratio >= Threshold; otherwise ratio <= Threshold.
	AtLeast   bool    `json:"at_least"`
	Threshold float64 `json:"threshold"`
}

// goals lists the comparison's targets (3 members).
func goals() []goal {
	return []goal{
		{Name: "W1 sequential put ops/s >= 1.0x etcd", Metric: "W1.ops", Pair: "3 members", AtLeast: true, Threshold: 1.0},
		{Name: "W2 concurrent put ops/s >= 2.0x etcd", Metric: "W2.ops", Pair: "3 members", AtLeast: true, Threshold: 2.0},
		{Name: "W3 linearizable get ops/s >= 2.0x etcd", Metric: "W3.ops", Pair: "3 members", AtLeast: true, Threshold: 2.0},
		{Name: "W4 watch lag p99 <= 0.5x etcd", Metric: "W4.lag_p99", Pair: "3 members", Threshold: 0.5},
		{Name: "peak RSS <= 1.0x etcd", Metric: "rss", Pair: "3 members", Threshold: 1.0},
	}
}

// cell is one metric of one target over all rounds.
type cell struct {
	Metric string `json:"metric"`
	Target string `json:"target"`
	// Value is the median over rounds (the maximum for peak RSS).
	Value  float64   `json:"value"`
	Values []float64 `json:"values"`
	// NA is set when the target does not run the metric's workload.
	NA bool `json:"na,omitempty"`
}

// ratio is the median over rounds of a pair's per-round Keel/etcd ratio.
type ratio struct {
	Metric string    `json:"metric"`
	Pair   string    `json:"pair"`
	Value  float64   `json:"value"`
	Values []float64 `json:"values"`
}

// check is a goal's outcome.
type check struct {
	goal
	Measured float64 `json:"measured"`
	// Evaluated is false when a needed target or value is missing.
	Evaluated bool `json:"evaluated"`
	Met       bool `json:"met"`
}

// failure is a failed child run.
type failure struct {
	Target     string `json:"target"`
	Round      int    `json:"round"`
	Err        string `json:"error"`
	StderrTail string `json:"stderr_tail"`
}

// runReport is everything a run produced.
type runReport struct {
	Env      env       `json:"env"`
	Options  options   `json:"options"`
	Targets  []string  `json:"targets"`
	Pairs    []pair    `json:"pairs"`
	Cells    []cell    `json:"cells"`
	Ratios   []ratio   `json:"ratios"`
	Checks   []check   `json:"checks"`
	Failures []failure `json:"failures"`
	Samples  []sample  `json:"samples"`
}

// valueOf returns m's value in sample s, and whether s has one; na reports
// that s's target does not run m's workload.
func valueOf(m metric, s sample) (v float64, ok, na bool) {
	if s.failed() {
		return 0, false, false
	}
	var r workloadResult
	if m.Workload != "" {
		var found bool
		if r, found = s.workload(m.Workload); !found {
			return 0, false, false
		}
		if r.NA {
			return 0, false, true
		}
	}
	v, ok = m.value(s, r)
	return v, ok && !math.IsNaN(v) && !math.IsInf(v, 0), false
}

// buildReport aggregates samples: medians (or maxima) per cell, per-round
// ratios medianed per pair, and the goals.
func buildReport(o options, e env, samples []sample) runReport {
	rep := runReport{Env: e, Options: o, Samples: samples, Targets: sortTargets(o.Targets)}
	for _, s := range samples {
		if s.failed() {
			rep.Failures = append(rep.Failures, failure{Target: s.Target, Round: s.Round, Err: s.Err, StderrTail: s.StderrTail})
		}
	}
	for _, p := range pairs() {
		if slices.Contains(rep.Targets, p.Keel) && slices.Contains(rep.Targets, p.Etcd) {
			rep.Pairs = append(rep.Pairs, p)
		}
	}
	for _, m := range metrics() {
		for _, t := range rep.Targets {
			if c, ok := aggregate(m, t, samples); ok {
				rep.Cells = append(rep.Cells, c)
			}
		}
		if m.NoRatio {
			continue
		}
		for _, p := range rep.Pairs {
			if r, ok := pairRatio(m, p, samples); ok {
				rep.Ratios = append(rep.Ratios, r)
			}
		}
	}
	for _, g := range goals() {
		c := check{goal: g}
		if r, ok := rep.ratio(g.Metric, g.Pair); ok {
			c.Measured, c.Evaluated = r.Value, true
			c.Met = (g.AtLeast && r.Value >= g.Threshold) || (!g.AtLeast && r.Value <= g.Threshold)
		}
		rep.Checks = append(rep.Checks, c)
	}
	return rep
}

// aggregate computes m's cell for target over every round that has it.
func aggregate(m metric, target string, samples []sample) (cell, bool) {
	c := cell{Metric: m.ID, Target: target}
	for _, s := range samples {
		if s.Target != target {
			continue
		}
		v, ok, na := valueOf(m, s)
		c.NA = c.NA || na
		if ok {
			c.Values = append(c.Values, v)
		}
	}
	switch {
	case len(c.Values) == 0:
		return c, c.NA
	case m.Max:
		c.Value = slices.Max(c.Values)
	default:
		c.Value = report.Median(c.Values)
	}
	return c, true
}

// pairRatio computes m's Keel/etcd ratio of p in every round where both
// have a value (and etcd's is positive), and their median.
func pairRatio(m metric, p pair, samples []sample) (ratio, bool) {
	r := ratio{Metric: m.ID, Pair: p.Name}
	for _, k := range samples {
		if k.Target != p.Keel {
			continue
		}
		kv, ok, _ := valueOf(m, k)
		if !ok {
			continue
		}
		for _, e := range samples {
			if e.Target != p.Etcd || e.Round != k.Round {
				continue
			}
			if ev, ok, _ := valueOf(m, e); ok && ev > 0 {
				r.Values = append(r.Values, kv/ev)
			}
		}
	}
	if len(r.Values) == 0 {
		return r, false
	}
	r.Value = report.Median(r.Values)
	return r, true
}

// cell returns the cell of metric and target.
func (rep runReport) cell(metric, target string) (cell, bool) {
	i := slices.IndexFunc(rep.Cells, func(c cell) bool { return c.Metric == metric && c.Target == target })
	if i < 0 {
		return cell{}, false
	}
	return rep.Cells[i], true
}

// ratio returns the ratio of metric for the pair named pairName.
func (rep runReport) ratio(metric, pairName string) (ratio, bool) {
	i := slices.IndexFunc(rep.Ratios, func(r ratio) bool { return r.Metric == metric && r.Pair == pairName })
	if i < 0 {
		return ratio{}, false
	}
	return rep.Ratios[i], true
}
