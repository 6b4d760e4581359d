package mvcc

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// propWatcher is one watcher of the property test and what it must see.
type propWatcher struct {
	w        *Watcher
	sink     *testSink
	key, end []byte
	start    int64 // first revision it must see
	prevKV   bool
	canceled bool // by the test
}

// TestWatchPropertyRandomized applies random txns (puts, deletes, ranges,
// multi-op txns, compactions) while watchers start at random revisions on
// random ranges, with sinks that are small, refuse for a while or are
// canceled. Every watcher's stream must equal the history filtered to its
// range from its start revision: ordered, no duplicates, no gaps, whole
// revisions per response; a watcher canceled by compaction must have seen
// a prefix of it and needed a revision below the compaction revision.
func TestWatchPropertyRandomized(t *testing.T) {
	seed := modelSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	steps := 600
	if testing.Short() {
		steps = 150
	}
	cfg := Config{
		noSync:            true,
		CommitInterval:    time.Duration(1+rng.IntN(5)) * time.Millisecond,
		CommitLimit:       1 + rng.IntN(30),
		WatchSyncInterval: 2 * time.Millisecond,
		WatchBatchMaxRevs: 1 + rng.IntN(6),
		CompactBatchLimit: 1 + rng.IntN(5),
	}
	cfg.CompactBatchInterval = time.Millisecond
	s, _ := openStore(t, cfg)

	keys := []string{"a", "a\x00", "ab", "abc", "b", "ba", "c", "d", "\xff"}
	randRange := func() (key, end []byte) {
		k := []byte(keys[rng.IntN(len(keys))])
		switch rng.IntN(5) {
		case 0:
			return k, nil
		case 1:
			return k, []byte{0}
		case 2:
			return []byte{0}, []byte{0}
		case 3:
			return k, prefixEnd(k)
		default:
			e := []byte(keys[rng.IntN(len(keys))])
			if string(e) <= string(k) {
				return k, append(k, 0)
			}
			return k, e
		}
	}

	var history []*Event
	var watchers []*propWatcher
	var index uint64
	newWatcher := func() {
		cur := s.Rev()
		key, end := randRange()
		pw := &propWatcher{key: key, end: end, prevKV: rng.IntN(2) == 0, sink: &testSink{}}
		switch rng.IntN(4) {
		case 0:
			pw.sink.capacity = 1
		case 1:
			pw.sink.capacity = 3
		}
		opts := WatchOptions{PrevKV: pw.prevKV}
		switch rng.IntN(3) {
		case 0: // now
			pw.start = cur + 1
		case 1: // past
			opts.StartRev = max(s.CompactRev(), 1+rng.Int64N(cur))
			pw.start = opts.StartRev
		default: // future
			opts.StartRev = cur + 1 + rng.Int64N(4)
			pw.start = opts.StartRev
		}
		w, err := s.Watch(key, end, opts, pw.sink)
		require.NoError(t, err)
		pw.w = w
		watchers = append(watchers, pw)
	}
	for range 10 {
		newWatcher()
	}

	for step := range steps {
		switch p := rng.IntN(100); {
		case p < 60: // write txn; each key changes at most once per txn
			index++
			tx := s.Write(index)
			used := map[string]bool{}
			if rng.IntN(4) == 0 {
				k, e := randRange()
				tx.DeleteRange(k, e)
				for _, kk := range keys {
					if inRange([]byte(kk), k, e) {
						used[kk] = true
					}
				}
			}
			for range rng.IntN(4) {
				k := keys[rng.IntN(len(keys))]
				if used[k] {
					continue
				}
				used[k] = true
				if rng.IntN(5) == 0 {
					tx.DeleteRange([]byte(k), nil)
				} else {
					tx.Put([]byte(k), []byte(fmt.Sprintf("v%d", step)), 0)
				}
			}
			for _, ev := range tx.End() {
				history = append(history, &Event{Type: ev.Type, Kv: ev.Kv.clone(), PrevKv: ev.PrevKv.clone()})
			}
		case p < 70:
			newWatcher()
		case p < 82: // a consumer reads
			watchers[rng.IntN(len(watchers))].sink.drain()
		case p < 90: // a consumer stalls or resumes
			pw := watchers[rng.IntN(len(watchers))]
			pw.sink.setStalled(rng.IntN(2) == 0)
		case p < 93:
			pw := watchers[rng.IntN(len(watchers))]
			pw.w.Cancel()
			pw.canceled = true
		case p < 96: // compaction
			cur, crev := s.Rev(), s.CompactRev()
			if cur > crev+1 {
				index++
				tx := s.Write(index)
				_, err := tx.Compact(crev + 1 + rng.Int64N(cur-crev))
				require.NoError(t, err)
				tx.End()
			}
		default:
			time.Sleep(time.Millisecond) // let the catch-up goroutine run
		}
	}

	// Let every consumer read freely until all watchers are synced.
	for _, pw := range watchers {
		pw.sink.mu.Lock()
		pw.sink.stalled, pw.sink.capacity = false, 0
		pw.sink.mu.Unlock()
	}
	s.kickWatchSync()
	waitFor(t, "all watchers synced", func() bool {
		_, unsynced := s.watchersCount()
		return unsynced == 0
	})
	crev := s.CompactRev()
	t.Logf("%d revisions, %d events, %d watchers, compacted at %d", s.Rev(), len(history), len(watchers), crev)

	for i, pw := range watchers {
		rs := pw.sink.drain()
		checkResponses(t, rs)
		var got []*Event
		var compactedAt int64
		for _, r := range rs {
			got = append(got, r.Events...)
			if r.CompactRevision != 0 {
				compactedAt = r.CompactRevision
			}
		}
		var want []*Event
		for _, ev := range history {
			if ev.Kv.ModRevision >= pw.start && inRange(ev.Kv.Key, pw.key, pw.end) {
				want = append(want, ev)
			}
		}
		what := fmt.Sprintf("watcher %d [%q, %q) from %d prevKV=%v", i, pw.key, pw.end, pw.start, pw.prevKV)
		if compactedAt != 0 || pw.canceled {
			require.Equal(t, 1, pw.sink.closeCount(), what)
			require.LessOrEqual(t, len(got), len(want), what)
			want = want[:len(got)]
		} else {
			require.Zero(t, pw.sink.closeCount(), what)
		}
		if compactedAt != 0 {
			require.Equal(t, rs[len(rs)-1].CompactRevision, compactedAt, "%s: CompactRevision is the last response", what)
			needed := max(pw.start, lastRev(got)+1)
			require.Less(t, needed, compactedAt, what)
		}
		require.Equal(t, len(want), len(got), what)
		for j := range want {
			require.Equal(t, want[j].Type, got[j].Type, "%s event %d", what, j)
			require.Equal(t, want[j].Kv, got[j].Kv, "%s event %d", what, j)
			switch {
			case !pw.prevKV:
				require.Nil(t, got[j].PrevKv, "%s event %d", what, j)
			case got[j].PrevKv == nil && want[j].PrevKv != nil:
				require.Less(t, got[j].Kv.ModRevision-1, crev, "%s event %d lost its PrevKv", what, j)
			default:
				require.Equal(t, want[j].PrevKv, got[j].PrevKv, "%s event %d", what, j)
			}
		}
	}
	require.True(t, slices.IsSortedFunc(history, func(a, b *Event) int { return int(a.Kv.ModRevision - b.Kv.ModRevision) }))
}
