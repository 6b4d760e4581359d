package wal_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// reorderSegSize is the segment size of the reordered-crash fixtures: the
// whole fixture fits in one segment.
const reorderSegSize = 128 << 10

// reorderFixture is a WAL whose last two batches were written but not
// (yet) synced, with the segment's bytes at three moments.
type reorderFixture struct {
	fs      *faultfs.FS // closed WAL; its segment holds imgs[2]
	seg     string      // the segment file
	batches [][]*raft.Log
	ends    []int    // end offset of each batch in the segment
	imgs    [][]byte // the segment before the last two batches, after the first of them, after both
	durable int      // batches durable when the crash can happen (see buildReorderFixture)
}

// randomBatches returns n batches from index 1 with entries of random
// sizes (up to 2 KB, some of zeros) so that the last batches span
// several 4 KiB pages, and frames straddle page boundaries.
func randomBatches(rng *rand.Rand, n int) [][]*raft.Log {
	var out [][]*raft.Log
	next := uint64(1)
	for range n {
		var b []*raft.Log
		for range 1 + rng.IntN(5) {
			l := makeLog(next, 1+next/10)
			l.Data = make([]byte, rng.IntN(2000))
			if rng.IntN(4) > 0 {
				for i := range l.Data {
					l.Data[i] = byte(rng.Uint32())
				}
			}
			b = append(b, l)
			next++
		}
		out = append(out, b)
	}
	return out
}

// buildReorderFixture writes random batches to a WAL and records the
// segment before and after each of the last two. Without DeferSync each
// StoreLogs syncs, so a crash finds at most one batch unsynced (the last
// two moments are those of a crash in the sync of the second-last batch,
// then of the last one); with it, the background sync is held back so
// that both are written before any of their syncs completes, and a crash
// finds both unsynced.
func buildReorderFixture(t *testing.T, rng *rand.Rand, deferSync bool) reorderFixture {
	t.Helper()
	fx := reorderFixture{fs: faultfs.New(), batches: randomBatches(rng, 3+rng.IntN(4))}
	w, err := wal.Open(memDir, wal.Config{FS: fx.fs, SegmentSize: reorderSegSize, DeferSync: deferSync})
	require.NoError(t, err)
	snap := func() []byte {
		segs := segFiles(t, fx.fs, memDir)
		require.Len(t, segs, 1, "fixture must fit in one segment")
		fx.seg = segs[0]
		data, err := fx.fs.ReadFile(fx.seg)
		require.NoError(t, err)
		fx.ends = append(fx.ends, lastNonZero(data))
		return data
	}
	n := len(fx.batches)
	for _, b := range fx.batches[:n-2] {
		require.NoError(t, w.StoreLogs(b))
		snap()
	}
	if deferSync {
		require.NoError(t, w.WaitDurable(context.Background(), fx.batches[n-3][len(fx.batches[n-3])-1].Index))
	}
	fx.imgs = append(fx.imgs, snap())
	fx.ends = fx.ends[:len(fx.ends)-1]
	var gate *segSyncGate
	if deferSync {
		gate = newSegSyncGate(fx.fs)
	}
	for _, b := range fx.batches[n-2:] {
		require.NoError(t, w.StoreLogs(b))
		fx.imgs = append(fx.imgs, snap())
	}
	if gate != nil {
		gate.release()
	}
	require.NoError(t, w.Close())
	fx.fs.SetSyncHook(nil)
	fx.durable = n - 2
	return fx
}

// crashImage returns a segment as a crash can leave it: each unit-sized
// page of the file is in one of the states imgs[lo..hi] (a page is written
// back with the file's content at some moment, pages independently of
// each other). It reports whether the persisted pages are not a prefix of
// the written ones (reordered).
func crashImage(rng *rand.Rand, imgs [][]byte, lo, hi, unit int) ([]byte, bool) {
	out := slices.Clone(imgs[hi])
	reordered, lost := false, false
	for p := 0; p < len(out); p += unit {
		q := min(p+unit, len(out))
		if slices.Equal(imgs[lo][p:q], imgs[hi][p:q]) {
			continue // a page the last batches did not touch
		}
		st := lo + rng.IntN(hi-lo+1)
		copy(out[p:q], imgs[st][p:q])
		if st < hi {
			lost = true
		} else if lost {
			reordered = true
		}
	}
	return out, reordered
}

// intactBatches is how many leading batches have exactly their written
// bytes in img: the batches recovery must return.
func intactBatches(img, final []byte, ends []int) int {
	start := 32
	for i, end := range ends {
		if !slices.Equal(img[start:end], final[start:end]) {
			return i
		}
		start = end
	}
	return len(ends)
}

// TestTornTailReordered simulates power losses that persist a random
// subset of the unsynced pages of the last two batches (4 KiB pages, or
// 512-byte sectors), in no particular order, and checks that every
// reopen succeeds with exactly the batches whose bytes all reached the
// disk: every durable batch, and then a complete prefix of the others,
// never ErrCorrupt, never a gap, never an entry that fails a check. The
// reopened WAL then takes a new batch and keeps it. Set KEEL_WAL_SEED to
// replay a run.
func TestTornTailReordered(t *testing.T) {
	for _, deferSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("DeferSync=%v", deferSync), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed(t)), 0))
			fixtures, states := 30, 48
			if testing.Short() {
				fixtures = 6
			}
			var runs, reordered, beyondDurable, dirty int
			kept := map[int]int{} // batches kept beyond the durable ones
			for fi := range fixtures {
				fx := buildReorderFixture(t, rng, deferSync)
				n := len(fx.batches)
				for si := range states {
					// The moments a crash can find: with DeferSync both last
					// batches unsynced; without, a crash in the sync of the
					// second-last batch or in that of the last.
					lo, hi, durable := 0, 2, fx.durable
					if !deferSync {
						if si%2 == 0 {
							hi = 1
						} else {
							lo, durable = 1, fx.durable+1
						}
					}
					unit := 4096
					if si%4 == 3 {
						unit = 512
					}
					img, reord := crashImage(rng, fx.imgs, lo, hi, unit)
					want := intactBatches(img, fx.imgs[2], fx.ends[:n-2+hi])
					require.GreaterOrEqual(t, want, durable, "a durable batch was torn: bad fixture")
					where := fmt.Sprintf("fixture %d state %d (pages from moments %d..%d, unit %d)", fi, si, lo, hi, unit)

					fsys := fx.fs.Clone()
					require.NoError(t, fsys.WriteFile(fx.seg, img))
					cfg := wal.Config{FS: fsys, SegmentSize: reorderSegSize, DeferSync: deferSync}
					w, err := wal.Open(memDir, cfg)
					require.NoError(t, err, where)
					logs := flatten(fx.batches[:want])
					requireLogs(t, w, logs)
					require.Equal(t, logs[len(logs)-1].Index, w.Durable(), where)

					next := makeLogs(logs[len(logs)-1].Index+1, 2, 9)
					require.NoError(t, w.StoreLogs(next), where)
					require.NoError(t, w.Close())
					w, err = wal.Open(memDir, cfg)
					require.NoError(t, err, "reopen: "+where)
					requireLogs(t, w, append(logs, next...))
					require.NoError(t, w.Close())

					runs++
					kept[want-durable]++
					if reord {
						reordered++
					}
					if want > durable {
						beyondDurable++
					}
					if !slices.Equal(img[fx.ends[want-1]:], make([]byte, len(img)-fx.ends[want-1])) {
						dirty++
					}
				}
			}
			t.Logf("%d crash states (%d reordered: a page persisted after a lost one), 0 ErrCorrupt, 0 gaps; "+
				"kept beyond the durable batches: %v (batches: states); %d kept more than the durable batches; "+
				"%d left torn bytes after the kept batches", runs, reordered, kept, beyondDurable, dirty)
		})
	}
}

// TestBitFlipBelowDurable flips every bit of acknowledged batches that a
// later commit frame records as durable, and checks that each flip makes
// Open fail with ErrCorrupt (a *CorruptError), although the damage is in
// the tail segment and could otherwise pass for a torn write. It also
// flips every bit of the last batch, acknowledged but vouched for by no
// later commit frame, and counts how many flips are still detected (by
// the torn-write shape check); when one is not, the reopened log is
// exactly the earlier batches (nothing that fails a check is served).
func TestBitFlipBelowDurable(t *testing.T) {
	for _, deferSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("DeferSync=%v", deferSync), func(t *testing.T) {
			fsys := faultfs.New()
			cfg := wal.Config{FS: fsys, SegmentSize: 8 << 10, DeferSync: deferSync}
			w, err := wal.Open(memDir, cfg)
			require.NoError(t, err)
			batches := [][]*raft.Log{makeLogs(1, 3, 1), makeLogs(4, 2, 1), makeLogs(6, 4, 2), makeLogs(10, 3, 2)}
			batches[2][1].Data = make([]byte, 600) // covers a whole 512-byte sector of zeros
			var ends []int
			for _, b := range batches {
				require.NoError(t, w.StoreLogs(b))
				require.NoError(t, w.WaitDurable(context.Background(), b[len(b)-1].Index))
				data, err := fsys.ReadFile(segFiles(t, fsys, memDir)[0])
				require.NoError(t, err)
				ends = append(ends, lastNonZero(data))
			}
			require.NoError(t, w.Close())
			seg := segFiles(t, fsys, memDir)[0]
			orig, err := fsys.ReadFile(seg)
			require.NoError(t, err)
			mark := ends[len(ends)-2] // recorded as durable by the last commit frame

			flip := func(bit int) error {
				c := fsys.Clone()
				data := slices.Clone(orig)
				data[bit/8] ^= 1 << (bit % 8)
				require.NoError(t, c.WriteFile(seg, data))
				w, err := wal.Open(memDir, wal.Config{FS: c, SegmentSize: 8 << 10})
				if err == nil {
					requireLogs(t, w, flatten(batches[:len(batches)-1]))
					require.NoError(t, w.Close())
				}
				return err
			}
			below := 0
			for bit := 32 * 8; bit < mark*8; bit++ {
				err := flip(bit)
				require.ErrorIs(t, err, wal.ErrCorrupt, "flip of bit %d (byte %d) below the durable offset %d", bit, bit/8, mark)
				var ce *wal.CorruptError
				require.ErrorAs(t, err, &ce)
				below++
			}
			detected, missed := 0, 0
			for bit := mark * 8; bit < ends[len(ends)-1]*8; bit++ {
				if err := flip(bit); err != nil {
					require.ErrorIs(t, err, wal.ErrCorrupt)
					detected++
				} else {
					missed++
				}
			}
			t.Logf("below the durable offset %d: %d flips, all ErrCorrupt; in the last acknowledged batch [%d, %d): %d flips, %d ErrCorrupt, %d recovered without it",
				mark, below, mark, ends[len(ends)-1], detected+missed, detected, missed)
			require.Zero(t, missed, "a flip in the last acknowledged batch passed for a torn write")

			// A lost (zeroed) sector below the durable offset is damage
			// too, although it looks like a torn write.
			data := slices.Clone(orig)
			clear(data[512:1024])
			require.Less(t, 1024, mark)
			c := fsys.Clone()
			require.NoError(t, c.WriteFile(seg, data))
			_, err = wal.Open(memDir, wal.Config{FS: c, SegmentSize: 8 << 10})
			require.ErrorIs(t, err, wal.ErrCorrupt)
		})
	}
}
