package wal_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// TestCrashModels runs a WAL under faultfs's crash models: it stores
// random batches (rotating through 64 KiB segments) and cuts the power at
// a random moment (CrashWith) or in the middle of a segment fsync (a Crash
// fault), persisting a random subset of the unsynced 4 KiB pages
// (TornPages: a later page may survive an earlier one), a prefix of them
// (TornPrefix) or none (LoseUnsynced). Every reopen must succeed with a
// prefix of the batches written, holding every acknowledged one (StoreLogs
// returned without DeferSync; Durable covered it with it). Set
// KEEL_WAL_SEED to replay a run.
func TestCrashModels(t *testing.T) {
	models := []faultfs.Model{faultfs.TornPages, faultfs.TornPrefix, faultfs.LoseUnsynced}
	for _, deferSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("DeferSync=%v", deferSync), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed(t)), 0))
			runs := 1500
			if testing.Short() {
				runs = 200
			}
			var inSync, reordered, kept int
			for run := range runs {
				m := models[run%len(models)]
				fsys := faultfs.New()
				cfg := wal.Config{FS: fsys, SegmentSize: 64 << 10, DeferSync: deferSync}
				w, err := wal.Open(memDir, cfg)
				require.NoError(t, err)
				calls := 2 + rng.IntN(30)
				// A power cut in the middle of an fsync (in 1 run in 4, or
				// 3 in 4 without DeferSync, where an fsync in progress is
				// the only time unsynced pages exist).
				midSync := 1
				if !deferSync {
					midSync = 3
				}
				if rng.IntN(4) < midSync {
					fsys.Inject(faultfs.Fault{Op: faultfs.OpSync, Pattern: "*.seg", After: rng.IntN(calls + 2), Times: 1, Crash: m, Seed: rng.Uint64()})
				}
				var written []*raft.Log
				var acked uint64
				for range calls {
					b := makeLogs(uint64(len(written))+1, 1+rng.IntN(5), 1)
					for _, l := range b {
						l.Data = make([]byte, rng.IntN(3000))
						for i := range l.Data {
							l.Data[i] = byte(rng.Uint32())
						}
					}
					written = append(written, b...) // it may persist even if StoreLogs fails
					if err := w.StoreLogs(b); err != nil {
						require.ErrorIs(t, err, faultfs.ErrStaleHandle, "run %d", run)
						break // the power was cut
					}
					if !deferSync {
						acked = uint64(len(written))
					} else if rng.IntN(4) == 0 && w.WaitDurable(context.Background(), uint64(len(written))) == nil {
						acked = uint64(len(written))
					}
				}
				acked = max(acked, w.Durable())
				var rep faultfs.CrashReport
				if n, r := fsys.Crashes(); n > 0 {
					inSync++
					rep = r
				} else {
					rep = fsys.CrashWith(m, rng.Uint64())
				}
				if rep.Reordered > 0 {
					reordered++
				}
				_ = w.Abandon()
				fsys.ClearFaults()

				w, err = wal.Open(memDir, cfg)
				require.NoError(t, err, "run %d (%v): reopen after the crash", run, m)
				last, err := w.LastIndex()
				require.NoError(t, err)
				require.GreaterOrEqual(t, last, acked, "run %d (%v): acknowledged entries lost", run, m)
				requireLogs(t, w, written[:last])
				require.NoError(t, w.Close())
				kept += int(last - acked)
			}
			t.Logf("%d crashes (%d in the middle of an fsync, %d reordered), 0 refused, 0 acknowledged entries lost; %d unacknowledged entries kept",
				runs, inSync, reordered, kept)
		})
	}
}
