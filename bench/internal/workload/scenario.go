package workload

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Append stores each batch with one StoreLogs call, timing every call, and
// returns the summary. The batches must continue the store's log.
func Append(s raft.LogStore, batches [][]*raft.Log) (Stats, error) {
	if len(batches) == 0 {
		return Stats{}, fmt.Errorf("%w: no batches", ErrInvalidArgument)
	}
	lat := make([]time.Duration, len(batches))
	entries := 0
	for _, b := range batches {
		entries += len(b)
	}
	start := time.Now()
	prev := start
	for i, b := range batches {
		if err := s.StoreLogs(b); err != nil {
			return Stats{}, fmt.Errorf("%w: StoreLogs call %d (index %d): %w", ErrStore, i, b[0].Index, err)
		}
		now := time.Now()
		lat[i] = now.Sub(prev)
		prev = now
	}
	return Summarize(lat, entries, prev.Sub(start)), nil
}

// Warmup stores calls batches of n entries from g without timing them. It
// absorbs one-off costs of a store's first writes (file growth, lazy
// allocation) that a long-running raft node would not see.
func Warmup(s raft.LogStore, g *Gen, calls, n int) error {
	for i := range calls {
		b := g.Batch(n)
		if err := s.StoreLogs(b); err != nil {
			return fmt.Errorf("%w: warm-up call %d: %w", ErrStore, i, err)
		}
	}
	return nil
}

// BurstStats describes an untimed-per-call burst of appends.
type BurstStats struct {
	// Entries is the number of entries appended.
	Entries int `json:"entries"`
	// Batch is the entries per StoreLogs call.
	Batch int `json:"batch"`
	// Elapsed is the wall time of the burst, including entry generation.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Burst appends total entries from g in StoreLogs calls of batch entries (the
// last call may be shorter). Entries are generated batch by batch so a large
// burst does not hold all payloads in memory.
func Burst(s raft.LogStore, g *Gen, total, batch int) (BurstStats, error) {
	if total <= 0 || batch <= 0 {
		return BurstStats{}, fmt.Errorf("%w: burst of %d entries in batches of %d", ErrInvalidArgument, total, batch)
	}
	start := time.Now()
	for done := 0; done < total; {
		n := min(batch, total-done)
		if err := s.StoreLogs(g.Batch(n)); err != nil {
			return BurstStats{}, fmt.Errorf("%w: burst at entry %d: %w", ErrStore, done, err)
		}
		done += n
	}
	return BurstStats{Entries: total, Batch: batch, Elapsed: time.Since(start)}, nil
}

// TruncateStats describes one timed head truncation.
type TruncateStats struct {
	// Min and Max are the DeleteRange bounds (inclusive).
	Min uint64 `json:"min"`
	Max uint64 `json:"max"`
	// Elapsed is how long DeleteRange took.
	Elapsed time.Duration `json:"elapsed_ns"`
	// First and Last are the store's indexes after the truncation.
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// TruncateHead deletes the head of the log so that only the newest keep
// entries remain: DeleteRange(first, last-keep), as a raft snapshot with
// TrailingLogs=keep does. It returns ErrInvalidArgument unless the log holds
// more than keep entries, and checks the resulting bounds.
func TruncateHead(s raft.LogStore, keep uint64) (TruncateStats, error) {
	first, err := s.FirstIndex()
	if err != nil {
		return TruncateStats{}, fmt.Errorf("%w: FirstIndex: %w", ErrStore, err)
	}
	last, err := s.LastIndex()
	if err != nil {
		return TruncateStats{}, fmt.Errorf("%w: LastIndex: %w", ErrStore, err)
	}
	if keep == 0 || last < first || last-first+1 <= keep {
		return TruncateStats{}, fmt.Errorf("%w: log [%d, %d] cannot keep %d entries after truncation", ErrInvalidArgument, first, last, keep)
	}
	ts := TruncateStats{Min: first, Max: last - keep}
	start := time.Now()
	if err := s.DeleteRange(ts.Min, ts.Max); err != nil {
		return TruncateStats{}, fmt.Errorf("%w: DeleteRange(%d, %d): %w", ErrStore, ts.Min, ts.Max, err)
	}
	ts.Elapsed = time.Since(start)
	if ts.First, err = s.FirstIndex(); err != nil {
		return TruncateStats{}, fmt.Errorf("%w: FirstIndex after truncation: %w", ErrStore, err)
	}
	if ts.Last, err = s.LastIndex(); err != nil {
		return TruncateStats{}, fmt.Errorf("%w: LastIndex after truncation: %w", ErrStore, err)
	}
	if ts.First != ts.Max+1 || ts.Last != last {
		return TruncateStats{}, fmt.Errorf("%w: after DeleteRange(%d, %d) the log is [%d, %d], want [%d, %d]",
			ErrStore, ts.Min, ts.Max, ts.First, ts.Last, ts.Max+1, last)
	}
	return ts, nil
}
