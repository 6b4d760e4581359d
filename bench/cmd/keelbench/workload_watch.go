package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keeldb/keel/bench/internal/workload"
)

// w4Prefix is the prefix W4's watcher watches.
const w4Prefix = "w4/"

// stampedValue returns a 256-byte value whose first 8 bytes are the
// big-endian unix-nanosecond time now.
func stampedValue(now time.Time) string {
	var b [valueBytes]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	for i := 8; i < len(b); i++ {
		b[i] = 'v'
	}
	return string(b[:])
}

// watchTally is what W4's watcher goroutine counts. Only that goroutine
// touches it until the watch returned.
type watchTally struct {
	timed, warm int
	seen        []bool
	lags        []time.Duration
	received    int
	warmGot     int
	duplicates  int
	foreign     int
	warmDone    chan struct{}
	allDone     chan struct{}
}

func newWatchTally(timed, warm int) *watchTally {
	return &watchTally{
		timed: timed, warm: warm, seen: make([]bool, timed+warm), lags: make([]time.Duration, 0, timed),
		warmDone: make(chan struct{}), allDone: make(chan struct{}),
	}
}

// observe records one delivered put. Keys 0..timed-1 are timed; keys
// timed..timed+warm-1 are the warm-up's.
func (t *watchTally) observe(key, val []byte) {
	now := time.Now().UnixNano()
	idx, err := strconv.Atoi(strings.TrimPrefix(string(key), w4Prefix))
	if err != nil || idx < 0 || idx >= len(t.seen) || len(val) < 8 {
		t.foreign++
		return
	}
	if t.seen[idx] {
		t.duplicates++
		return
	}
	t.seen[idx] = true
	if idx >= t.timed {
		if t.warmGot++; t.warmGot == t.warm {
			close(t.warmDone)
		}
		return
	}
	t.lags = append(t.lags, time.Duration(now-int64(binary.BigEndian.Uint64(val[:8]))))
	if t.received++; t.received == t.timed {
		close(t.allDone)
	}
}

// runWatch is W4: one prefix watcher on the leader, 16 writers putting
// stamped values under the prefix; lag is receipt time - submit time.
func (s *session) runWatch(ctx context.Context) (workloadResult, error) {
	n := s.counts.W4
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deliver, err := s.b.Watch(wctx, w4Prefix)
	if err != nil {
		return workloadResult{}, err
	}
	tally := newWatchTally(n, warmupOps)
	watchErr := make(chan error, 1)
	go func() { watchErr <- deliver(tally.observe) }()
	stop := func() error { // ends the watcher; afterwards tally is ours
		cancel()
		return <-watchErr
	}
	put := func(base int) func(ctx context.Context, _, i int) error {
		return func(ctx context.Context, _, i int) error {
			return s.b.Put(ctx, key(w4Prefix, base+i), stampedValue(time.Now()))
		}
	}
	wait := func(done <-chan struct{}, what string) error {
		select {
		case <-done:
			return nil
		case err := <-watchErr:
			watchErr <- err // for stop
			return fmt.Errorf("%w: watch ended while waiting for %s: %v", errWatchEnded, what, err)
		case <-time.After(watchTimeout):
			return fmt.Errorf("%w: %s not delivered within %v", errCheck, what, watchTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if _, _, err := runClients(ctx, w4Writers, warmupOps, put(n)); err != nil {
		return workloadResult{}, fmt.Errorf("warm-up: %w (watch: %v)", err, stop())
	}
	if err := wait(tally.warmDone, "warm-up events"); err != nil {
		return workloadResult{}, fmt.Errorf("warm-up: %w (watch: %v)", err, stop())
	}
	var r workloadResult
	err = s.timed(func() error {
		lat, elapsed, err := runClients(ctx, w4Writers, n, put(0))
		r.Stats = workload.Summarize(lat, n, elapsed)
		if err != nil {
			return err
		}
		return wait(tally.allDone, fmt.Sprintf("%d events", n))
	})
	werr := stop()
	if err != nil {
		return r, fmt.Errorf("%w (received %d of %d; watch: %v)", err, tally.received, n, werr)
	}
	if werr != nil {
		return r, werr
	}
	if tally.received != n || tally.duplicates != 0 || tally.foreign != 0 {
		return r, fmt.Errorf("%w: watch received %d of %d puts, %d duplicates, %d foreign events",
			errCheck, tally.received, n, tally.duplicates, tally.foreign)
	}
	lag := workload.Summarize(tally.lags, len(tally.lags), 0)
	r.Lag = &lagStats{Received: tally.received, P50: lag.P50, P99: lag.P99, Max: lag.Max}
	return r, nil
}
