package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// writeTable renders res as aligned text tables.
func writeTable(w io.Writer, res result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	e := res.Env
	fmt.Fprintf(w, "watchbench: %s %s/%s, %d CPUs, started %s, took %s\n", e.GoVersion, e.GOOS, e.GOARCH, e.NumCPU, e.Started, e.Duration)
	fmt.Fprintf(w, "load average at start %s, at end %s; leader %s; follower placement on %s\n", e.LoadStart, e.LoadEnd, e.Leader, e.FollowerFor)
	fmt.Fprintf(w, "writers %d (writer w -> member w mod 3), value %d B\n", res.Options.Writers, res.Options.ValueBytes)
	if m := res.Memory; m != nil {
		fmt.Fprintf(w, "\nIdle watchers on %s (HeapAlloc after GC; goroutines)\n", m.Member)
		fmt.Fprintln(tw, "watchers\theap before\theap with\theap released\tbytes/watcher\tgoroutines before\twith\treleased\tgoroutines/watcher\t")
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.0f\t%d\t%d\t%d\t%.3f\t\n", m.Watchers, mib(m.HeapBefore), mib(m.HeapAfter), mib(m.HeapReleased),
			m.BytesPerWatcher, m.GoroutinesBefore, m.GoroutinesAfter, m.GoroutinesReleased, m.GoroutinesPerWatcher)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(res.Lag) > 0 {
		fmt.Fprintf(w, "\nDelivery lag, Put issued -> event received by each watcher (all watchers on one prefix, reading promptly)\n")
		fmt.Fprintln(tw, "placement\twatchers\tputs\tdelivered\twrites/s\tdeliveries/s\tp50\tp99\tmax\tretries\t")
		for _, l := range res.Lag {
			del := fmt.Sprintf("%d/%d", l.Delivered, l.Expected)
			if !l.Complete {
				del += " INCOMPLETE"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t%d\t\n", l.Placement, l.Watchers, l.Puts, del,
				l.WritesPerSec, l.DeliveriesPerSec, dur(l.P50), dur(l.P99), dur(l.Max), l.Retries)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if s := res.Slow; s != nil {
		fmt.Fprintf(w, "\nSlow consumer isolation (%s: one fast watcher, with/without one watcher that never reads; %d puts per run)\n", s.Placement, s.Puts)
		fmt.Fprintln(tw, "round\twrites/s without\twith\tratio\tfast deliveries/s without\twith\tratio\tfast p99 without\twith\tstalled buffered\tretries\t")
		for i, r := range s.Rounds {
			fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.3f\t%.0f\t%.0f\t%.3f\t%s\t%s\t%d\t%d\t\n", i+1, r.WritesPerSecWithout, r.WritesPerSecWith, r.WriteRatio,
				r.DeliverPerSecWithout, r.DeliverPerSecWith, r.DeliverRatio, dur(r.FastP99Without), dur(r.FastP99With), r.StalledBuffered, r.Retries)
		}
		fmt.Fprintf(tw, "median\t\t\t%.3f\t\t\t%.3f\t\t\t\t\t\n", s.MedianWriteRatio, s.MedianDeliverRatio)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// dur rounds d for display: 3 significant digits or so.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
