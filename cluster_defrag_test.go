package keel_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// Defragment: member-local, online. The tests check that the
// data and HashKV are unchanged and the file shrinks, that a history of
// concurrent reads and writes across defragmentations of every member is
// linearizable, and that AutoDefrag runs on one member at a time.

// makeGarbage writes n values of size bytes through s and deletes them.
// With compact it also compacts history away (WithCompactPhysical: on the
// leader, the records are gone from the database when it returns) and
// waits until every running member of c has most of its database free.
func makeGarbage(tb testing.TB, c *keeltest.Cluster, s *keel.Store, n, size int, compact bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 2*keeltest.WaitLimit)
	defer cancel()
	val := strings.Repeat("g", size)
	for lo := 0; lo < n; lo += 32 {
		var ops []keel.Op
		for i := lo; i < min(lo+32, n); i++ {
			ops = append(ops, keel.OpPut(fmt.Sprintf("garbage/%05d", i), val))
		}
		_, err := s.Txn(ctx).Then(ops...).Commit()
		require.NoError(tb, err)
	}
	del, err := s.Delete(ctx, "garbage/", keel.WithPrefix())
	require.NoError(tb, err)
	if !compact {
		return
	}
	_, err = s.Compact(ctx, del.Header.Revision, keel.WithCompactPhysical())
	require.NoError(tb, err)
	for _, m := range c.Members() {
		if m == nil {
			continue
		}
		for {
			size, inUse, err := m.DBSpace()
			require.NoError(tb, err)
			if 2*inUse < size {
				break
			}
			select {
			case <-ctx.Done():
				tb.Fatalf("member %s: %d of %d bytes still in use after the compaction", m.ID(), inUse, size)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// memberState is what Defragment must not change on a member.
type memberState struct {
	Hash    uint32
	Compact int64
	Rev     int64
	KVs     []string
}

func stateOf(tb testing.TB, s *keel.Store) memberState {
	tb.Helper()
	ctx := tb.Context()
	h, err := s.HashKV(ctx, "", 0)
	require.NoError(tb, err)
	gr, err := s.Get(ctx, "", keel.WithFromKey(), keel.WithSerializable())
	require.NoError(tb, err)
	st := memberState{Hash: h.Hash, Compact: h.CompactRevision, Rev: h.Header.Revision}
	for _, kv := range gr.Kvs {
		st.KVs = append(st.KVs, fmt.Sprintf("%s=%s@%d/%d/%d", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version))
	}
	return st
}

func kvFileSize(tb testing.TB, c *keeltest.Cluster, i int) int64 {
	tb.Helper()
	fi, err := os.Stat(filepath.Join(c.Config(i).Dir, "kv.db"))
	require.NoError(tb, err)
	return fi.Size()
}

func TestDefragmentKeepsDataAndShrinks(t *testing.T) {
	c := keeltest.NewCluster(t, 3)
	l := c.Leader()
	ctx := t.Context()
	for i := range 50 {
		_, err := l.Put(ctx, fmt.Sprintf("live/%02d", i), fmt.Sprint(i))
		require.NoError(t, err)
	}
	makeGarbage(t, c, l, 1500, 8<<10, true) // 12 MiB
	_, err := l.Put(ctx, "live/last", "x")
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, keeltest.WaitLimit)
	defer cancel()
	require.NoError(t, c.WaitConverged(wctx))

	var first memberState
	for i, s := range c.Members() {
		before := stateOf(t, s)
		sizeBefore := kvFileSize(t, c, i)
		resp, err := s.Defragment(ctx, "")
		require.NoError(t, err, "member %s", s.ID())
		t.Logf("member %s: %d -> %d bytes in %v, commits held %v", s.ID(), resp.SizeBefore, resp.SizeAfter, resp.Duration, resp.CommitPause)
		require.Equal(t, sizeBefore, resp.SizeBefore)
		require.Less(t, resp.SizeAfter, sizeBefore/4, "member %s: the file shrinks", s.ID())
		require.Equal(t, resp.SizeAfter, kvFileSize(t, c, i))
		require.Equal(t, before.Rev, resp.Header.Revision)
		require.Equal(t, before, stateOf(t, s), "member %s: the data and hash are the same", s.ID())
		if i == 0 {
			first = before
		}
		require.Equal(t, first, before, "members agree")
	}

	// The members go on: a write reaches all, and a restarted member
	// reads its defragmented file.
	_, err = c.Leader().Put(ctx, "live/after", "defrag")
	require.NoError(t, err)
	require.NoError(t, c.WaitConverged(wctx))
	want := stateOf(t, c.Member(1))
	c.Restart(1)
	require.NoError(t, c.WaitConverged(wctx))
	require.Equal(t, want, stateOf(t, c.Member(1)))
}

// TestDefragmentUnderLoad defragments every member, leader last, while
// clients on every member run a recorded workload; the history must be
// linearizable and the members' histories equal (see rollingRun.check).
func TestDefragmentUnderLoad(t *testing.T) {
	rollingRuns(t, func(t *testing.T, seed int64) {
		r := newRollingRun(t, seed)
		r.progress()
		// History to copy (the run's checks read the whole history, so
		// it is not compacted).
		makeGarbage(t, r.c, r.c.Leader(), 600, 4<<10, false)
		r.progress()
		l := r.leaderPos()
		order := []int{(l + 1) % 3, (l + 2) % 3, l}
		for round := range 2 {
			for _, i := range order {
				s := r.c.Member(i)
				ctx, cancel := context.WithTimeout(t.Context(), keeltest.WaitLimit)
				resp, err := s.Defragment(ctx, "")
				cancel()
				if err != nil {
					r.fail("defragment member %s: %v", s.ID(), err)
				}
				t.Logf("round %d, member %s: %d -> %d bytes in %v, commits held %v",
					round, s.ID(), resp.SizeBefore, resp.SizeAfter, resp.Duration, resp.CommitPause)
				r.progress()
			}
		}
		r.check()
		var hash uint32
		for i, s := range r.c.Members() {
			h, err := s.HashKV(t.Context(), "", 0)
			require.NoError(t, err)
			if i == 0 {
				hash = h.Hash
			}
			require.Equal(t, hash, h.Hash, "member %s's hash", s.ID())
		}
	})
}

// logCapture collects JSON log records in the order they were logged.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (lc *logCapture) Write(p []byte) (int, error) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.buf.Write(p)
}

// records returns the records whose message starts with prefix.
func (lc *logCapture) records(tb testing.TB, prefix string) []map[string]any {
	tb.Helper()
	lc.mu.Lock()
	data := bytes.Clone(lc.buf.Bytes())
	lc.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		require.NoError(tb, json.Unmarshal(sc.Bytes(), &rec))
		if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, rec)
		}
	}
	require.NoError(tb, sc.Err())
	return out
}

func TestAutoDefragOneMemberAtATime(t *testing.T) {
	logs := &logCapture{}
	c := keeltest.NewCluster(t, 3, keeltest.WithConfig(func(_ int, cfg *keel.Config) {
		cfg.AutoDefrag = true
		cfg.AutoDefragInterval = 20 * time.Millisecond
		cfg.AutoDefragMinFree = 1 << 20
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}))
	l := c.Leader()
	_, err := l.Put(t.Context(), "live", "1")
	require.NoError(t, err)
	sizes := make([]int64, 3)
	makeGarbage(t, c, l, 800, 8<<10, true) // 6 MiB
	for i := range sizes {
		sizes[i] = kvFileSize(t, c, i)
	}

	// Every member defragments by itself.
	done := func() map[string]int {
		n := map[string]int{}
		for _, rec := range logs.records(t, "auto defrag: done") {
			n[rec["member"].(string)]++
		}
		return n
	}
	deadline := time.Now().Add(2 * keeltest.WaitLimit)
	for len(done()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("auto defrag ran on %v only", done())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// One at a time: no member starts while another runs.
	running := ""
	for _, rec := range logs.records(t, "auto defrag: ") {
		m, msg := rec["member"].(string), rec["msg"].(string)
		switch msg {
		case "auto defrag: starting":
			require.Empty(t, running, "%s started while %s ran", m, running)
			running = m
		case "auto defrag: done", "auto defrag: failed":
			require.Equal(t, running, m, "%s ended a run it did not start", m)
			running = ""
		}
	}
	for i := range sizes {
		require.Less(t, kvFileSize(t, c, i), sizes[i]/2, "member %d's file shrank", i)
	}
	// Nothing changed but the files.
	wctx, cancel := context.WithTimeout(t.Context(), keeltest.WaitLimit)
	defer cancel()
	require.NoError(t, c.WaitConverged(wctx))
	want := stateOf(t, c.Member(0))
	for _, s := range c.Members()[1:] {
		require.Equal(t, want, stateOf(t, s))
	}
}
