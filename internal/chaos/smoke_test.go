package chaos

import (
	"context"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
)

func openStore(t testing.TB) *keel.Store {
	t.Helper()
	s, err := keel.Open(keel.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// TestSmokeSingleMember runs the workload from three clients against one
// member for about a second, checks linearizability and validates watches
// recorded from revision 1 against the ground truth.
func TestSmokeSingleMember(t *testing.T) {
	seed := Seed(t)
	art := NewArtifacts(t)
	s := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rng := rand.New(rand.NewSource(seed))
	keys := RunKeys(rng, 4)
	prefix := keys[0][:len(keys[0])-2]
	rec := NewRecorder()

	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	watches := []*WatchRecorder{
		RecordWatch(wctx, s, rec, "m0", WatchRequest{Key: prefix, Prefix: true, StartRev: 1, PrevKV: true}, 0),
		RecordWatch(wctx, s, rec, "m0", WatchRequest{Key: keys[1], StartRev: 1}, 0),
		RecordWatch(wctx, s, rec, "m0", WatchRequest{Key: keys[0], End: keys[2], PrevKV: true}, 0),
	}

	var wg sync.WaitGroup
	counts := make([]Counts, 3)
	for i := range counts {
		c := NewClient(i, s, rec, rand.New(rand.NewSource(seed+int64(i)+1)), WorkloadConfig{Keys: keys, Duration: time.Second})
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i] = c.Run(ctx)
		}()
	}
	wg.Wait()
	var total Counts
	for _, c := range counts {
		total = total.Add(c)
	}
	t.Logf("workload: %+v", total)
	require.NoError(t, CheckFloor(total, 50))

	ops := rec.Operations()
	require.Len(t, ops, total.Completed+total.Unknown)
	ok, result, info, err := Check(ops, 30*time.Second)
	require.NoError(t, art.SaveRun(seed, Schedule{Seed: seed, Members: 1}, rec, &info))
	require.True(t, ok, "porcupine %s: %v (artifacts %s)", result, err, art.Dir)

	// Final state: every acknowledged write is visible or superseded.
	final := map[string]string{}
	var head int64
	for _, k := range keys {
		r, err := s.Get(ctx, k)
		require.NoError(t, err)
		head = max(head, r.Header.Revision)
		if len(r.Kvs) > 0 {
			final[k] = string(r.Kvs[0].Value)
		}
	}
	require.NoError(t, CheckAckedWrites(ops, final))

	// Ground truth, then wait until the prefix watch caught up with it.
	events, err := GroundTruth(ctx, s, head)
	require.NoError(t, err)
	h, err := NewHistory(events)
	require.NoError(t, err)
	require.Equal(t, head, h.LastRevision())
	require.Equal(t, final, h.State(head))
	deadline := time.Now().Add(10 * time.Second)
	for watches[0].Stream().LastRevision() < h.LastRevision() {
		require.True(t, time.Now().Before(deadline), "watch did not catch up to %d", h.LastRevision())
		time.Sleep(10 * time.Millisecond)
	}
	wcancel()
	var streams []WatchStream
	for _, w := range watches {
		<-w.Done()
		streams = append(streams, w.Stream())
	}
	require.NoError(t, art.SaveWatches(streams))
	require.Len(t, flatten(streams[0]), len(events), "the prefix watch saw every event")
	for _, st := range streams {
		require.NoError(t, ValidateWatch(h, st))
	}
}
