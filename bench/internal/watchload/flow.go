package watchload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeldb/keel"
)

// flow is one measured run: writers put Puts stamped values under Prefix,
// through the members round-robin (writer w uses member w mod n), while
// one reading watcher per entry of readOn and one never-read watcher per
// entry of stallOn watch the prefix.
type flow struct {
	clock      Clock
	members    []*keel.Store
	prefix     string
	writers    int
	puts       int
	valueBytes int
	readOn     []*keel.Store
	stallOn    []*keel.Store
	// timeout bounds the wait for delivery after the last put returned.
	timeout time.Duration
}

// flowResult is what a flow measured.
type flowResult struct {
	lag *Histogram
	// writeDur is from the first put issued to the last put returned.
	writeDur time.Duration
	// deliverDur is from the first put issued to the last event received
	// by the slowest reading watcher (or to the timeout).
	deliverDur time.Duration
	expected   int64
	delivered  int64
	complete   bool
	// stalled is the number of responses buffered in the never-read
	// watchers' channels at the end (bounded by WatchBufferSize each).
	stalled int
	// retries counts puts retried after a leader change.
	retries int64
}

// maxAttempts bounds the attempts of one put across leader changes.
const maxAttempts = 10

// put writes key with a fresh stamp through m. A put that fails because
// leadership moved (ErrTimeout, ErrNoLeader, ErrNotLeader) is retried with
// a fresh stamp: if the first attempt committed after all, watchers see
// the key twice, which the flow tolerates (a watcher is complete once it
// has Puts events).
func (f flow) put(ctx context.Context, m *keel.Store, key string, retries *atomic.Int64) error {
	for attempt := 1; ; attempt++ {
		val, err := EncodeStamp(f.clock.Now(), f.valueBytes)
		if err != nil {
			return err
		}
		_, err = m.Put(ctx, key, val)
		switch {
		case err == nil:
			return nil
		case attempt < maxAttempts && ctx.Err() == nil &&
			(errors.Is(err, keel.ErrTimeout) || errors.Is(err, keel.ErrNoLeader) || errors.Is(err, keel.ErrNotLeader)):
			retries.Add(1)
		default:
			return err
		}
	}
}

func (f flow) validate() error {
	if f.writers <= 0 || f.puts <= 0 || f.valueBytes < StampBytes || len(f.members) == 0 || f.timeout <= 0 {
		return fmt.Errorf("%w: writers %d, puts %d, value bytes %d (min %d), %d members, timeout %v",
			ErrInvalidParams, f.writers, f.puts, f.valueBytes, StampBytes, len(f.members), f.timeout)
	}
	return nil
}

// run performs the flow. Watchers are registered before the first put
// (Watch registers synchronously from the member's next revision) and
// released before run returns.
func (f flow) run(ctx context.Context) (res flowResult, err error) {
	if err := f.validate(); err != nil {
		return res, err
	}
	wctx, cancelWatches := context.WithCancel(ctx)
	var readers sync.WaitGroup
	defer func() {
		cancelWatches()
		readers.Wait()
	}()

	res.lag = NewHistogram()
	res.expected = int64(f.puts) * int64(len(f.readOn))
	var (
		delivered   atomic.Int64
		lastEvent   atomic.Int64 // clock reading of the latest completing delivery
		pending     atomic.Int64 // reading watchers not yet complete
		allDone     = make(chan struct{})
		canceled    atomic.Bool
		stalledChan = make([]keel.WatchChan, 0, len(f.stallOn))
	)
	pending.Store(int64(len(f.readOn)))
	if len(f.readOn) == 0 {
		close(allDone)
	}
	for _, m := range f.stallOn {
		stalledChan = append(stalledChan, m.Watch(wctx, f.prefix, keel.WithPrefix()))
	}
	for j, m := range f.readOn {
		ch := m.Watch(wctx, f.prefix, keel.WithPrefix())
		readers.Go(func() {
			got := 0
			for resp := range ch {
				if resp.Canceled {
					if wctx.Err() == nil {
						canceled.Store(true)
					}
					continue
				}
				now := f.clock.Now()
				for _, ev := range resp.Events {
					if st, err := DecodeStamp(ev.Kv.Value); err == nil {
						res.lag.Record(j, time.Duration(now-st))
					}
				}
				had := got
				got += len(resp.Events)
				delivered.Add(int64(len(resp.Events)))
				if had < f.puts && got >= f.puts {
					for {
						l := lastEvent.Load()
						if now <= l || lastEvent.CompareAndSwap(l, now) {
							break
						}
					}
					if pending.Add(-1) == 0 {
						close(allDone)
					}
				}
			}
		})
	}

	start := f.clock.Now()
	var (
		writers  sync.WaitGroup
		next     atomic.Int64
		writeErr atomic.Pointer[error]
		retries  atomic.Int64
	)
	for w := range f.writers {
		m := f.members[w%len(f.members)]
		writers.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(f.puts) || writeErr.Load() != nil {
					return
				}
				err := f.put(ctx, m, fmt.Sprintf("%s%08d", f.prefix, i), &retries)
				if err != nil {
					err = fmt.Errorf("put through %s: %w", m.ID(), err)
					writeErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	writers.Wait()
	res.writeDur = time.Duration(f.clock.Now() - start)
	res.retries = retries.Load()
	if p := writeErr.Load(); p != nil {
		return res, *p
	}

	timer := time.NewTimer(f.timeout)
	defer timer.Stop()
	select {
	case <-allDone:
		res.complete = true
		res.deliverDur = time.Duration(lastEvent.Load() - start)
	case <-timer.C:
		res.deliverDur = time.Duration(f.clock.Now() - start)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	for _, ch := range stalledChan {
		res.stalled += len(ch)
	}
	cancelWatches()
	readers.Wait()
	res.delivered = delivered.Load()
	if canceled.Load() {
		return res, ErrWatchCanceled
	}
	return res, nil
}
