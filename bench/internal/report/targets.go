package report

import "fmt"

// Thresholds of the issue #2 targets.
const (
	// MinSpeedupVsBoltDB: reference batch-1 ops/s at least 2x raft-boltdb.
	MinSpeedupVsBoltDB = 2.0
	// MinSpeedupVsRaftWAL: reference batch-1 ops/s at least 1x raft-wal.
	MinSpeedupVsRaftWAL = 1.0
	// MinAfterOverFresh: "no degradation after truncation" is taken to mean
	// the reference's batch-1 ops/s after burst+truncation is at least 0.85
	// of its fresh figure in the same round (median over rounds). The 15%
	// allowance absorbs run-to-run noise on a shared VM; raft-boltdb's
	// degradation is a factor of 2-3, far outside it.
	MinAfterOverFresh = 0.85
)

// Baseline store names the targets refer to. They match the logstore names
// without importing that package.
const (
	boltDBName  = "raft-boltdb"
	raftWALName = "raft-wal"
)

// Targets evaluates the issue #2 goals for r.Config.Reference from r's
// ratios and truncation summaries. A target whose stores were not run is
// returned with Evaluated false.
func Targets(r Report) []Target {
	ref := r.Config.Reference
	find := func(base string) (Ratio, bool) {
		for _, ra := range r.Ratios {
			if ra.Cell == CellB1Fresh && ra.Baseline == base {
				return ra, true
			}
		}
		return Ratio{}, false
	}
	var out []Target
	t := Target{Name: fmt.Sprintf("%s batch-1 ops/s >= %.1fx %s", ref, MinSpeedupVsBoltDB, boltDBName), Threshold: MinSpeedupVsBoltDB}
	if ra, ok := find(boltDBName); ok {
		t.Evaluated, t.Measured, t.Met = true, ra.Ops, ra.Ops >= MinSpeedupVsBoltDB
	}
	out = append(out, t)

	t = Target{Name: fmt.Sprintf("%s batch-1 ops/s >= %.1fx %s", ref, MinSpeedupVsRaftWAL, raftWALName), Threshold: MinSpeedupVsRaftWAL}
	if ra, ok := find(raftWALName); ok {
		t.Evaluated, t.Measured, t.Met = true, ra.Ops, ra.Ops >= MinSpeedupVsRaftWAL
	}
	out = append(out, t)

	t = Target{Name: fmt.Sprintf("%s no degradation after burst+truncate (after/fresh ops/s >= %.2f)", ref, MinAfterOverFresh), Threshold: MinAfterOverFresh}
	for _, tr := range r.Truncations {
		if tr.Store == ref && tr.OpsAfterFresh > 0 {
			t.Evaluated, t.Measured, t.Met = true, tr.OpsAfterFresh, tr.OpsAfterFresh >= MinAfterOverFresh
		}
	}
	out = append(out, t)
	return out
}
