package wal_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// countingFS counts ReadAt calls on segment files.
type countingFS struct {
	wal.FS
	reads atomic.Int64
}

type countingFile struct {
	wal.File
	reads *atomic.Int64
}

func (c *countingFS) OpenFile(name string, flag int, perm os.FileMode) (wal.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil || filepath.Ext(name) != ".seg" && filepath.Base(name) != "next.seg.tmp" { // a spare becomes a segment
		return f, err
	}
	return countingFile{File: f, reads: &c.reads}, nil
}

func (f countingFile) ReadAt(p []byte, off int64) (int, error) {
	f.reads.Add(1)
	return f.File.ReadAt(p, off)
}

// TestReadCacheServesRecentEntries checks that GetLog of entries just
// stored reads no file, that entries beyond the cache budget, in a sealed
// segment or after a reopen are read from the file, and that a disabled
// cache always reads.
func TestReadCacheServesRecentEntries(t *testing.T) {
	tests := []struct {
		name      string
		cache     int
		storeN    int    // entries stored, one per batch, 64 B of data each
		readFrom  uint64 // GetLog of [readFrom, storeN]
		reopen    bool
		wantReads func(reads, n int64) bool
	}{
		{name: "recent entries from memory", cache: 0, storeN: 100, readFrom: 1, wantReads: func(r, _ int64) bool { return r == 0 }},
		{name: "disabled cache reads every entry", cache: -1, storeN: 100, readFrom: 1, wantReads: func(r, n int64) bool { return r == n }},
		{name: "beyond the budget reads the file", cache: 2048, storeN: 200, readFrom: 1, wantReads: func(r, n int64) bool { return r > 0 && r < n }},
		{name: "within a small budget from memory", cache: 2048, storeN: 200, readFrom: 195, wantReads: func(r, _ int64) bool { return r == 0 }},
		{name: "after reopen from the file", cache: 0, storeN: 50, readFrom: 1, reopen: true, wantReads: func(r, n int64) bool { return r == n }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := &countingFS{FS: faultfs.New()}
			cfg := wal.Config{FS: fsys, SegmentSize: 1 << 20, ReadCacheBytes: tc.cache}
			w, err := wal.Open(memDir, cfg)
			require.NoError(t, err)
			var want []*raft.Log
			for i := 1; i <= tc.storeN; i++ {
				l := &raft.Log{Index: uint64(i), Term: 1, Type: raft.LogCommand, Data: bytes.Repeat([]byte{byte(i)}, 64)}
				require.NoError(t, w.StoreLogs([]*raft.Log{l}))
				want = append(want, l)
			}
			if tc.reopen {
				require.NoError(t, w.Close())
				w, err = wal.Open(memDir, cfg)
				require.NoError(t, err)
			}
			defer w.Close()
			fsys.reads.Store(0)
			for idx := tc.readFrom; idx <= uint64(tc.storeN); idx++ {
				var got raft.Log
				require.NoError(t, w.GetLog(idx, &got))
				require.Equal(t, *want[idx-1], got)
			}
			n := int64(uint64(tc.storeN) - tc.readFrom + 1)
			reads := fsys.reads.Load()
			require.True(t, tc.wantReads(reads, n), "%d file reads for %d GetLogs", reads, n)
		})
	}
}

// TestReadCacheAgainstModel applies random appends (some larger than the
// cache budget, some rotating segments), head and tail truncations and
// reopens with several cache budgets, and checks after every step that
// every entry reads back as stored and that the Data of every entry read
// earlier is still unchanged (cached entries share the Data StoreLogs got).
// Set KEEL_WAL_SEED to replay a run.
func TestReadCacheAgainstModel(t *testing.T) {
	s := seed(t)
	for _, tc := range []struct {
		name  string
		cache int
	}{
		{"disabled", -1},
		{"smaller than most batches", 40},
		{"a few batches", 600},
		{"default", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(s), 1))
			fsys := faultfs.New()
			cfg := wal.Config{FS: fsys, SegmentSize: 2000, ReadCacheBytes: tc.cache}
			w, err := wal.Open(memDir, cfg)
			require.NoError(t, err)
			defer func() { w.Close() }()

			type held struct {
				data []byte // as returned by GetLog
				want []byte // a copy taken then
			}
			var model []*raft.Log
			var seen []held
			term := uint64(1)
			for step := 0; step < 600; step++ {
				switch op := rng.IntN(100); {
				case op < 70:
					next := uint64(1)
					if len(model) > 0 {
						next = model[len(model)-1].Index + 1
					}
					batch := makeLogs(next, 1+rng.IntN(6), term)
					if rng.IntN(8) == 0 {
						batch[0].Data = bytes.Repeat([]byte{byte(step)}, rng.IntN(1500))
					}
					require.NoError(t, w.StoreLogs(batch), "step %d", step)
					model = append(model, batch...)
				case op < 80 && len(model) > 0:
					k := rng.IntN(len(model))
					require.NoError(t, w.DeleteRange(model[0].Index, model[k].Index), "step %d", step)
					model = model[k+1:]
				case op < 92 && len(model) > 0:
					k := rng.IntN(len(model))
					require.NoError(t, w.DeleteRange(model[k].Index, model[len(model)-1].Index), "step %d", step)
					model = model[:k]
					term++
				case op < 100:
					require.NoError(t, w.Close())
					w, err = wal.Open(memDir, cfg)
					require.NoError(t, err)
				}
				requireLogs(t, w, model)
				for i := max(0, len(model)-4); i < len(model); i++ {
					var got raft.Log
					require.NoError(t, w.GetLog(model[i].Index, &got))
					seen = append(seen, held{data: got.Data, want: bytes.Clone(got.Data)})
				}
				for i, h := range seen {
					require.Equal(t, h.want, h.data, "step %d: data returned by an earlier GetLog (#%d) changed", step, i)
				}
			}
		})
	}
}
