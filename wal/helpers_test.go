package wal_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// memDir is the WAL directory used inside a faultfs.FS.
const memDir = "/wal"

// openMem opens a WAL in fsys (a faultfs) with a small segment size.
func openMem(tb testing.TB, fsys *faultfs.FS, segSize int64) *wal.WAL {
	tb.Helper()
	w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: segSize})
	require.NoError(tb, err)
	return w
}

// makeLogs returns n entries starting at index start, with deterministic
// contents derived from the index and term.
func makeLogs(start uint64, n int, term uint64) []*raft.Log {
	logs := make([]*raft.Log, n)
	for i := range logs {
		idx := start + uint64(i)
		logs[i] = makeLog(idx, term)
	}
	return logs
}

func makeLog(idx, term uint64) *raft.Log {
	l := &raft.Log{
		Index: idx,
		Term:  term,
		Type:  raft.LogType(idx % 6),
		Data:  []byte(fmt.Sprintf("data-%d-term-%d", idx, term)),
	}
	if idx%3 == 0 {
		l.Extensions = []byte("ext-" + strconv.FormatUint(idx, 10))
	}
	if idx%2 == 0 {
		l.AppendedAt = time.Unix(1_700_000_000+int64(idx), int64(idx*7919)%1e9)
	}
	return l
}

// requireLogs asserts that the store holds exactly want, in order.
func requireLogs(tb testing.TB, s raft.LogStore, want []*raft.Log) {
	tb.Helper()
	first, err := s.FirstIndex()
	require.NoError(tb, err)
	last, err := s.LastIndex()
	require.NoError(tb, err)
	if len(want) == 0 {
		require.Zero(tb, first, "first index of empty log")
		require.Zero(tb, last, "last index of empty log")
		return
	}
	require.Equal(tb, want[0].Index, first, "first index")
	require.Equal(tb, want[len(want)-1].Index, last, "last index")
	for _, w := range want {
		var got raft.Log
		require.NoError(tb, s.GetLog(w.Index, &got), "GetLog(%d)", w.Index)
		require.Equal(tb, *w, got, "GetLog(%d)", w.Index)
	}
	var l raft.Log
	require.ErrorIs(tb, s.GetLog(first-1, &l), raft.ErrLogNotFound)
	require.ErrorIs(tb, s.GetLog(last+1, &l), raft.ErrLogNotFound)
}

// segFiles returns the segment file names in dir of fsys, sorted.
func segFiles(tb testing.TB, fsys wal.FS, dir string) []string {
	tb.Helper()
	names, err := fsys.ReadDir(dir)
	require.NoError(tb, err)
	var segs []string
	for _, n := range names {
		if filepath.Ext(n) == ".seg" {
			segs = append(segs, filepath.Join(dir, n))
		}
	}
	return segs
}

// seed returns the seed for a randomized test: KEEL_WAL_SEED if set, else
// the current time. It logs the seed so a failure can be replayed.
func seed(tb testing.TB) int64 {
	tb.Helper()
	return wal.RandomSeed(tb)
}
