package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// writeReport prints the environment, the table of medians with the ratio
// columns, the goals and the failures.
func writeReport(w io.Writer, rep runReport) error {
	e := rep.Env
	var b strings.Builder
	fmt.Fprintf(&b, "keelbench: Keel vs etcd v3.7.3 (embedded) vs hashicorp/raft v1.8.0 + raft-boltdb v2.3.0\n")
	fmt.Fprintf(&b, "env: %s %s/%s, GOMAXPROCS %d, NumCPU %d, kernel %s\n", e.GoVersion, e.GOOS, e.GOARCH, e.GOMAXPROCS, e.NumCPU, e.Kernel)
	fmt.Fprintf(&b, "run: started %s, took %s, seed %d, %d round(s), load average %s -> %s\n",
		e.Started, e.Duration, e.Seed, rep.Options.Rounds, e.LoadStart, e.LoadEnd)
	c := rep.Options.Counts
	fmt.Fprintf(&b, "ops: W1 %d, W2 %d, W3/W3s %d over %d keys, W4 %d, W5 %d (16 B keys, 256 B values)\n\n",
		c.W1, c.W2, c.W3, c.Keys, c.W4, c.W5)
	b.WriteString(formatTable(tableRows(rep)))
	b.WriteString("\nValues are medians over rounds (peak RSS: max). Latencies in ms. Ratio columns: Keel / etcd-direct,\n")
	b.WriteString("computed per round and medianed (ops/s: > 1 means Keel is faster; latency, RSS: < 1 means Keel is better).\n")
	if len(rep.Checks) > 0 {
		b.WriteString("\nTargets (3 members, Keel / etcd-direct):\n")
		for _, ch := range rep.Checks {
			status, measured := "n/a ", "not measured"
			if ch.Evaluated {
				status, measured = "MISS", formatRatio(ch.Measured)
				if ch.Met {
					status = "PASS"
				}
			}
			fmt.Fprintf(&b, "  %s  %-42s %s\n", status, ch.Name, measured)
		}
	}
	if len(rep.Failures) > 0 {
		b.WriteString("\nFailed child runs:\n")
		for _, f := range rep.Failures {
			fmt.Fprintf(&b, "  %s round %d: %s\n", f.Target, f.Round, f.Err)
			for line := range strings.SplitSeq(f.StderrTail, "\n") {
				if line != "" {
					fmt.Fprintf(&b, "    | %s\n", line)
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// tableRows returns the header and one row per metric: label, one column
// per target, one per ratio pair.
func tableRows(rep runReport) [][]string {
	header := append([]string{"metric"}, rep.Targets...)
	for _, p := range rep.Pairs {
		header = append(header, "keel/etcd "+p.Short)
	}
	rows := [][]string{header}
	failed := map[string]bool{}
	for _, f := range rep.Failures {
		failed[f.Target] = true
	}
	for _, m := range metrics() {
		if m.Workload != "" && !slices.Contains(rep.Options.Workloads, m.Workload) {
			continue
		}
		label := m.Label
		if m.Unit == unitLatency {
			label += " ms"
		}
		row := []string{label}
		for _, t := range rep.Targets {
			c, ok := rep.cell(m.ID, t)
			switch {
			case ok && c.NA && len(c.Values) == 0:
				row = append(row, "n/a")
			case ok:
				row = append(row, formatValue(m.Unit, c.Value))
			case failed[t]:
				row = append(row, "FAIL")
			default:
				row = append(row, "-")
			}
		}
		for _, p := range rep.Pairs {
			r, ok := rep.ratio(m.ID, p.Name)
			if m.NoRatio || !ok {
				row = append(row, "")
				continue
			}
			row = append(row, formatRatio(r.Value))
		}
		rows = append(rows, row)
	}
	return rows
}

// formatTable aligns rows: the first column left, the others right.
func formatTable(rows [][]string) string {
	var widths []int
	for _, r := range rows {
		for i, f := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(f))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, f := range r {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", widths[i], f)
				continue
			}
			fmt.Fprintf(&b, "  %*s", widths[i], f)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// formatValue prints v in unit u.
func formatValue(u unit, v float64) string {
	switch u {
	case unitOps:
		return thousands(int64(v + 0.5))
	case unitLatency:
		switch {
		case v < 1:
			return strconv.FormatFloat(v, 'f', 3, 64)
		case v < 100:
			return strconv.FormatFloat(v, 'f', 2, 64)
		default:
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
	case unitPercent:
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	case unitMicros:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
}

// formatRatio prints a ratio as "1.23x".
func formatRatio(r float64) string { return strconv.FormatFloat(r, 'f', 2, 64) + "x" }

// thousands prints n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
