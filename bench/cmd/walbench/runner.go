package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/keeldb/keel/bench/internal/logstore"
	"github.com/keeldb/keel/bench/internal/report"
	"github.com/keeldb/keel/bench/internal/workload"
)

// runner executes every cell of every store for every round. It is not safe
// for concurrent use.
type runner struct {
	cfg      report.Config
	stores   []logstore.Factory
	progress io.Writer
}

// run interleaves the stores round-robin: within a round, each cell runs for
// every store before the next cell starts, and the store order rotates by
// one each round so no store always goes first.
func (r *runner) run(ctx context.Context) ([]report.Sample, error) {
	var samples []report.Sample
	for round := 1; round <= r.cfg.Rounds; round++ {
		order := rotate(r.stores, round-1)
		for _, cell := range report.Cells() {
			for _, f := range order {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				s, err := r.cell(round, f, cell)
				if err != nil {
					return nil, fmt.Errorf("round %d, %s, %s: %w", round, f.Name, cell, err)
				}
				fmt.Fprintf(r.progress, "round %d/%d %-22s %-16s %10.0f ops/s  p50 %-9v p99 %v\n",
					round, r.cfg.Rounds, cell, f.Name, s.Stats.OpsPerSec, s.Stats.P50, s.Stats.P99)
				samples = append(samples, s)
			}
		}
	}
	return samples, nil
}

// cell measures one cell on a fresh store in a fresh directory, which is
// removed afterwards.
func (r *runner) cell(round int, f logstore.Factory, cell report.Cell) (s report.Sample, err error) {
	dir, err := os.MkdirTemp(r.cfg.Dir, "walbench-"+f.Name+"-")
	if err != nil {
		return s, err
	}
	defer func() {
		if rerr := os.RemoveAll(dir); err == nil && rerr != nil {
			err = rerr
		}
	}()
	st, err := f.Open(dir)
	if err != nil {
		return s, err
	}
	defer func() {
		if cerr := st.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	g, err := workload.NewGen(r.cfg.Seed+uint64(round), 1, r.cfg.EntryBytes)
	if err != nil {
		return s, err
	}
	s = report.Sample{Round: round, Store: f.Name, Cell: cell}
	batch, calls := 1, r.cfg.Batch1Calls
	switch cell {
	case report.CellB64Fresh:
		batch, calls = r.cfg.Batch64, r.cfg.Batch64Call
	case report.CellB1AfterTruncate:
		b, err := workload.Burst(st, g, r.cfg.Burst, r.cfg.BurstBatch)
		if err != nil {
			return s, err
		}
		t, err := workload.TruncateHead(st, r.cfg.Keep)
		if err != nil {
			return s, err
		}
		s.Burst, s.Truncate = &b, &t
	}
	if err := workload.Warmup(st, g, r.cfg.WarmupCalls, batch); err != nil {
		return s, err
	}
	batches := g.Batches(calls, batch)
	runtime.GC() // Start every timed loop from the same heap state.
	if s.Stats, err = workload.Append(st, batches); err != nil {
		return s, err
	}
	if cell == report.CellB1AfterTruncate {
		if s.DiskBytes, err = dirSize(dir); err != nil {
			return s, err
		}
	}
	return s, nil
}

// rotate returns fs rotated left by k.
func rotate(fs []logstore.Factory, k int) []logstore.Factory {
	if len(fs) == 0 {
		return nil
	}
	k %= len(fs)
	out := make([]logstore.Factory, 0, len(fs))
	return append(append(out, fs[k:]...), fs[:k]...)
}

// dirSize returns the allocated size of the regular files under dir, so
// preallocated and sparse files count for what they occupy on disk.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += allocated(info)
		return nil
	})
	return total, err
}
