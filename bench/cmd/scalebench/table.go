package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// mib is bytes per MiB.
const mib = 1 << 20

// metric is one row of the table: a figure every result has.
type metric struct {
	// Name labels the row, with its unit.
	Name string
	// Format formats the value.
	Format string
	// Value extracts the figure from a result.
	Value func(r result) float64
	// MayBeZero marks figures that are legitimately zero (counts of
	// retries); every other figure must be positive in a valid run.
	MayBeZero bool
}

// metrics lists the table's rows in order.
var metrics = []metric{
	{Name: "load time (s)", Format: "%.1f", Value: func(r result) float64 { return r.LoadSeconds }},
	{Name: "load rate (keys/s)", Format: "%.0f", Value: func(r result) float64 { return r.LoadRate }},
	{Name: "load retries", Format: "%.0f", Value: func(r result) float64 { return float64(r.LoadRetries) }, MayBeZero: true},
	{Name: "heap alloc before load, 3 members (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.HeapBefore.Alloc) / mib }},
	{Name: "heap alloc after load, 3 members (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.HeapAfter.Alloc) / mib }},
	{Name: "heap inuse after load, 3 members (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.HeapAfter.Inuse) / mib }},
	{Name: "heap alloc growth per member (MiB)", Format: "%.1f", Value: func(r result) float64 { return heapGrowthPerMember(r) / mib }},
	{Name: "heap alloc growth per key per member (B)", Format: "%.0f", Value: func(r result) float64 { return heapGrowthPerMember(r) / float64(r.Keys) }},
	{Name: "RSS after load + GC, 3 members (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.RSSAfterLoad) / mib }},
	{Name: "peak RSS until the end of the load (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.PeakRSSLoad) / mib }},
	{Name: "peak RSS of the whole run (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.PeakRSS) / mib }},
	{Name: "db file per member (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.DBBytes) / mib }},
	{Name: "WAL dir per member (MiB on disk)", Format: "%.1f", Value: func(r result) float64 { return float64(r.WALBytes) / mib }},
	{Name: "snapshot files per member (MiB on disk)", Format: "%.1f", Value: func(r result) float64 { return float64(r.SnapBytes) / mib }},
	{Name: "follower restart -> serializable get (s)", Format: "%.3f", Value: func(r result) float64 { return r.FollowerSerializable }},
	{Name: "follower restart -> linearizable get (s)", Format: "%.3f", Value: func(r result) float64 { return r.FollowerLinearizable }},
	{Name: "cluster restart -> linearizable get (s)", Format: "%.3f", Value: func(r result) float64 { return r.ClusterLinearizable }},
	{Name: "backup snapshot size (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.BackupBytes) / mib }},
	{Name: "backup snapshot time (s)", Format: "%.3f", Value: func(r result) float64 { return r.BackupSeconds }},
	{Name: "lagging follower -> serves latest (s)", Format: "%.3f", Value: func(r result) float64 { return r.LagCatchUp }},
	{Name: "snapshot received by follower (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.SnapshotReceivedBytes) / mib }},
	{Name: "fresh member joins -> snapshot installed (s)", Format: "%.3f", Value: func(r result) float64 { return r.JoinSnapshotSeconds }},
	{Name: "fresh member joins -> linearizable get (s)", Format: "%.3f", Value: func(r result) float64 { return r.JoinLinearizable }},
	{Name: "fresh member joins -> voter (s)", Format: "%.3f", Value: func(r result) float64 { return r.JoinVoter }},
	{Name: "snapshot received by joiner (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.JoinSnapshotBytes) / mib }},
	{Name: "defrag: leader db file before (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.DefragFileBefore) / mib }},
	{Name: "defrag: leader db file after (MiB)", Format: "%.1f", Value: func(r result) float64 { return float64(r.DefragFileAfter) / mib }},
	{Name: "defrag: time (s)", Format: "%.3f", Value: func(r result) float64 { return r.DefragSeconds }},
	{Name: "defrag: longest put during it (ms)", Format: "%.1f", Value: func(r result) float64 { return r.DefragPutMax * 1000 }},
	{Name: "defrag: puts completed during it", Format: "%.0f", Value: func(r result) float64 { return float64(r.DefragPuts) }, MayBeZero: true},
	{Name: "defrag: longest leader get during it (ms)", Format: "%.1f", Value: func(r result) float64 { return r.DefragGetMax * 1000 }},
	{Name: "defrag: leader gets served during it", Format: "%.0f", Value: func(r result) float64 { return float64(r.DefragGets) }, MayBeZero: true},
	{Name: "defrag: failed puts + gets during it", Format: "%.0f", Value: func(r result) float64 { return float64(r.DefragPutFailures + r.DefragGetFailures) }, MayBeZero: true},
	{Name: "puts completed in the second before", Format: "%.0f", Value: func(r result) float64 { return float64(r.BaselinePuts) }},
	{Name: "longest put in the second before (ms)", Format: "%.1f", Value: func(r result) float64 { return r.BaselinePutMax * 1000 }},
	{Name: "leader gets served in the second before", Format: "%.0f", Value: func(r result) float64 { return float64(r.BaselineGets) }},
	{Name: "longest leader get in the second before (ms)", Format: "%.1f", Value: func(r result) float64 { return r.BaselineGetMax * 1000 }},
}

// heapGrowthPerMember is the heap the load added, divided by the members.
func heapGrowthPerMember(r result) float64 {
	return (float64(r.HeapAfter.Alloc) - float64(r.HeapBefore.Alloc)) / members
}

// writeTable prints the results as metric rows by system, plus a
// keel/etcd ratio column when both systems ran.
func writeTable(w io.Writer, o options, rs []result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	keel, etcd := find(rs, systemKeel), find(rs, systemEtcd)
	ratio := keel != nil && etcd != nil
	head := []string{"metric"}
	for _, r := range rs {
		head = append(head, r.System)
	}
	if ratio {
		head = append(head, "keel/etcd")
	}
	line := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
	line(head...)
	for _, m := range metrics {
		cells := []string{m.Name}
		for _, r := range rs {
			cells = append(cells, fmt.Sprintf(m.Format, m.Value(r)))
		}
		if ratio {
			cells = append(cells, formatRatio(m.Value(*keel), m.Value(*etcd)))
		}
		line(cells...)
	}
	for _, b := range []struct {
		name string
		get  func(result) bool
	}{
		{"leader compacted past follower", func(r result) bool { return r.LeaderCompacted }},
		{"follower installed a snapshot", func(r result) bool { return r.SnapshotInstalled }},
		{"joiner installed a snapshot", func(r result) bool { return r.JoinSnapshotInstalled }},
	} {
		cells := []string{b.name}
		for _, r := range rs {
			cells = append(cells, yesNo(b.get(r)))
		}
		if ratio {
			cells = append(cells, "")
		}
		line(cells...)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	_, err := fmt.Fprintf(w, "load: %d keys, %d-byte values, %s; lagging follower: %d single puts while down; then %s joins; "+
		"then the first %d keys are deleted and compacted and the leader defragments under a put loop and a get loop\n",
		o.Keys, o.ValueBytes, o.method(), o.LagWrites, joinerName, o.Keys/2)
	return err
}

// find returns the result of system, or nil.
func find(rs []result, system string) *result {
	for i := range rs {
		if rs[i].System == system {
			return &rs[i]
		}
	}
	return nil
}

// formatRatio formats a/b, or "-" when b is zero.
func formatRatio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
