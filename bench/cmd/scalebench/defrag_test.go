package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	op := func(from, to int, err error) opRecord { return opRecord{start: at(from), end: at(to), err: err} }
	boom := errors.New("boom")
	ops := []opRecord{
		op(0, 5, nil),      // before the window
		op(5, 120, nil),    // in flight when it starts: overlaps, ends inside
		op(120, 130, boom), // inside, failed
		op(130, 140, nil),  // inside
		op(140, 400, nil),  // in flight when it ends: overlaps, ends after
		op(400, 410, nil),  // after
	}
	for _, tc := range []struct {
		name     string
		ops      []opRecord
		from, to int
		want     window
	}{
		{"window", ops, 100, 200, window{Completed: 2, Failed: 1, MaxLatency: 260 * time.Millisecond}},
		{"nothing overlaps", ops[:1], 100, 200, window{}},
		{"baseline excludes the op in flight", endedBefore(ops, at(100)), 0, 100, window{Completed: 1, MaxLatency: 5 * time.Millisecond}},
		{"baseline without the filter", ops, 0, 100, window{Completed: 1, MaxLatency: 115 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, summarize(tc.ops, at(tc.from), at(tc.to)))
		})
	}
}
