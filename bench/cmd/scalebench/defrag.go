package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The defrag step: half of the loaded keys are deleted and compacted away,
// then the leader's database is defragmented (Keel: Store.Defragment;
// etcd: EtcdServer.Defragment, what Maintenance.Defragment calls) while a
// writer puts one key in a loop through the leader and a reader Gets a
// loaded key (linearizable) in a loop on the leader. Each loop records
// every operation's start, end and error.

const (
	// defragDeleteChunk is the number of keys one delete removes.
	defragDeleteChunk = 20000
	// defragBaseline is how long the loops run before the
	// defragmentation starts, for comparison.
	defragBaseline = time.Second
	// defragTail is how long the loops run after it ends, so that the
	// operations in flight at its end complete.
	defragTail = 300 * time.Millisecond
	// defragOpTimeout bounds each loop operation: longer than etcd's
	// stop-the-world defragmentation of the default run's database.
	defragOpTimeout = 2 * time.Minute
	// defragWriteKey is the key the writer puts.
	defragWriteKey = "defrag/w"
)

// opRecord is one operation of a loop.
type opRecord struct {
	start, end time.Time
	err        error
}

// opLoop runs one operation after another until stopped.
type opLoop struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	ops    []opRecord
}

// startLoop runs op in a loop in a new goroutine.
func startLoop(ctx context.Context, op func(ctx context.Context, n int) error) *opLoop {
	ctx, cancel := context.WithCancel(ctx)
	l := &opLoop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for n := 0; ctx.Err() == nil; n++ {
			octx, ocancel := context.WithTimeout(ctx, defragOpTimeout)
			start := time.Now()
			err := op(octx, n)
			end := time.Now()
			ocancel()
			if ctx.Err() != nil {
				return // stopped mid-operation: not a result
			}
			l.mu.Lock()
			l.ops = append(l.ops, opRecord{start: start, end: end, err: err})
			l.mu.Unlock()
		}
	}()
	return l
}

// stop stops the loop and returns its operations.
func (l *opLoop) stop() []opRecord {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ops
}

// window summarizes the operations of a loop over [from, to].
type window struct {
	// Completed counts the operations that succeeded and ended in it.
	Completed int
	// Failed counts those that failed and ended in it.
	Failed int
	// MaxLatency is the longest operation that overlapped it.
	MaxLatency time.Duration
}

// summarize returns the summary of ops over [from, to].
func summarize(ops []opRecord, from, to time.Time) window {
	var w window
	for _, op := range ops {
		if op.end.Before(from) || op.start.After(to) {
			continue
		}
		w.MaxLatency = max(w.MaxLatency, op.end.Sub(op.start))
		if op.end.After(to) {
			continue
		}
		if op.err != nil {
			w.Failed++
		} else {
			w.Completed++
		}
	}
	return w
}

// endedBefore returns the operations of ops that ended before t.
func endedBefore(ops []opRecord, t time.Time) []opRecord {
	var out []opRecord
	for _, op := range ops {
		if op.end.Before(t) {
			out = append(out, op)
		}
	}
	return out
}

// stepDefrag deletes the first half of the loaded keys, compacts history
// up to the last delete (waiting until the leader's database no longer
// holds it), then defragments the leader with the loops running.
func stepDefrag(ctx context.Context, c cluster, o options, r *result, logf func(string, ...any)) error {
	if err := waitLeader(ctx, c); err != nil {
		return err
	}
	half := o.Keys / 2
	rev, err := c.deleteRange(ctx, defragWriteKey, defragWriteKey+"\x00") // a revision even if half is 0
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	for lo := 0; lo < half; lo += defragDeleteChunk {
		hi := min(lo+defragDeleteChunk, half)
		if rev, err = c.deleteRange(ctx, loadKey(lo), loadKey(hi)); err != nil {
			return fmt.Errorf("delete %s..%s: %w", loadKey(lo), loadKey(hi), err)
		}
	}
	r.DefragDeleted = half
	l := c.leader()
	if l < 0 {
		return fmt.Errorf("no leader")
	}
	start := time.Now()
	if err := c.compact(ctx, l, rev); err != nil {
		return fmt.Errorf("compact at %d: %w", rev, err)
	}
	logf("deleted %d keys, compacted at revision %d in %.1fs", half, rev, time.Since(start).Seconds())
	if r.DefragFileBefore, err = fileSize(c.files(l).DB); err != nil {
		return err
	}

	readKey := loadKey(o.Keys - 1)
	value := valueFor(defragWriteKey, o.ValueBytes)
	writer := startLoop(ctx, func(ctx context.Context, _ int) error {
		return c.put(ctx, []kv{{key: defragWriteKey, value: value}})
	})
	reader := startLoop(ctx, func(ctx context.Context, _ int) error {
		_, err := c.get(ctx, l, readKey, false)
		return err
	})
	loopsStart := time.Now()
	sleep(ctx, defragBaseline)
	from := time.Now()
	pause, err := c.defragment(ctx, l)
	to := time.Now()
	var sizeErr error
	if err == nil {
		// Right away: the next commit that needs a page grows the file
		// by bbolt's 16 MiB step (both systems).
		r.DefragFileAfter, sizeErr = fileSize(c.files(l).DB)
	}
	sleep(ctx, defragTail)
	writes, reads := writer.stop(), reader.stop()
	if err != nil {
		return fmt.Errorf("defragment m%d: %w", l+1, err)
	}
	if sizeErr != nil {
		return sizeErr
	}
	r.DefragSeconds, r.DefragReportedPause = to.Sub(from).Seconds(), pause.Seconds()
	w, rd := summarize(writes, from, to), summarize(reads, from, to)
	r.DefragPuts, r.DefragPutFailures, r.DefragPutMax = w.Completed, w.Failed, w.MaxLatency.Seconds()
	r.DefragGets, r.DefragGetFailures, r.DefragGetMax = rd.Completed, rd.Failed, rd.MaxLatency.Seconds()
	bw, br := summarize(endedBefore(writes, from), loopsStart, from), summarize(endedBefore(reads, from), loopsStart, from)
	r.BaselinePutMax, r.BaselineGetMax = bw.MaxLatency.Seconds(), br.MaxLatency.Seconds()
	r.BaselinePuts, r.BaselineGets = bw.Completed, br.Completed
	logf("defragmented m%d in %.3fs (%.1f -> %.1f MiB, pause reported %.1f ms): %d puts (longest %.1f ms), %d gets (longest %.1f ms, %d failed)",
		l+1, r.DefragSeconds, float64(r.DefragFileBefore)/mib, float64(r.DefragFileAfter)/mib, pause.Seconds()*1000,
		w.Completed, w.MaxLatency.Seconds()*1000, rd.Completed, rd.MaxLatency.Seconds()*1000, rd.Failed)
	return nil
}
