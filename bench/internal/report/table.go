package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// WriteTable prints r as readable, aligned text tables.
func WriteTable(w io.Writer, r Report) error {
	c := r.Config
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }

	p("walbench: %s %s/%s, %d CPUs, %d rounds, %d-byte entries, fsync on, seed %d, took %s\n",
		r.Env.GoVersion, r.Env.GOOS, r.Env.GOARCH, r.Env.NumCPU, c.Rounds, c.EntryBytes, c.Seed, r.Env.Duration)
	p("cells: batch1 = %d calls x 1 entry; batch64 = %d calls x %d entries; %d untimed warm-up calls per cell\n",
		c.Batch1Calls, c.Batch64Call, c.Batch64, c.WarmupCalls)
	p("after-truncate: burst of %d entries (batch %d), DeleteRange(first, last-%d), then batch1 again\n\n",
		c.Burst, c.BurstBatch, c.Keep)

	p("Medians over rounds (ops/s counts entries; latency is per StoreLogs call)\n")
	p("cell\tstore\tops/s\tmin..max\tp50\tp99\t\n")
	for _, s := range r.Summaries {
		p("%s\t%s\t%s\t%s..%s\t%s\t%s\t\n", s.Cell, s.Store, num(s.OpsPerSec),
			num(s.MinOpsPerSec), num(s.MaxOpsPerSec), dur(s.P50), dur(s.P99))
	}

	if len(r.Ratios) > 0 {
		p("\nRatios %s / baseline, median of per-round ratios (ops: >1 = %s faster; p99: <1 = %s faster)\n",
			c.Reference, c.Reference, c.Reference)
		p("cell\tbaseline\tops ratio\tp99 ratio\trounds\t\n")
		for _, ra := range r.Ratios {
			p("%s\t%s\t%.2fx\t%.2fx\t%d\t\n", ra.Cell, ra.Baseline, ra.Ops, ra.P99, ra.Rounds)
		}
	}

	if len(r.Truncations) > 0 {
		p("\nBurst + head truncation (after/fresh: same store, same round)\n")
		p("store\tburst ops/s\tDeleteRange\tdisk after\tops after/fresh\tp99 after/fresh\t\n")
		for _, t := range r.Truncations {
			p("%s\t%s\t%s\t%s\t%.2fx\t%.2fx\t\n", t.Store, num(t.BurstOpsSec), dur(t.DeleteRange),
				mib(t.DiskBytes), t.OpsAfterFresh, t.P99AfterFresh)
		}
	}

	p("\nTargets (issue #2)\n")
	for _, t := range r.Targets {
		switch {
		case !t.Evaluated:
			p("  [n/a]    %s: not evaluated (store not run, or it is the reference)\n", t.Name)
		case t.Met:
			p("  [met]    %s: %.2f\n", t.Name, t.Measured)
		default:
			p("  [MISSED] %s: %.2f\n", t.Name, t.Measured)
		}
	}
	return tw.Flush()
}

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: encode JSON: %w", err)
	}
	return nil
}

// num formats a rate with thousands separators and no decimals.
func num(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// dur formats a latency with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// mib formats a byte count in MiB.
func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
