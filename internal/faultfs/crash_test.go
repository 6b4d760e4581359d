package faultfs_test

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

const pg = faultfs.PageSize

// pages returns n pages, page k filled with byte fill+k.
func pages(n int, fill byte) []byte {
	b := make([]byte, n*pg)
	for k := range n {
		for i := range pg {
			b[k*pg+i] = fill + byte(k)
		}
	}
	return b
}

// writeFile creates name with data, synced and with its directory entry
// durable when durable is set.
func writeFile(tb testing.TB, f *faultfs.FS, name string, data []byte, durable bool) {
	tb.Helper()
	h := create(tb, f, name)
	_, err := h.WriteAt(data, 0)
	require.NoError(tb, err)
	if durable {
		require.NoError(tb, h.Sync())
		require.NoError(tb, f.SyncDir("/"))
	}
	require.NoError(tb, h.Close())
}

// overwrite writes data at off without syncing it.
func overwrite(tb testing.TB, f *faultfs.FS, name string, data []byte, off int64) {
	tb.Helper()
	h, err := f.OpenFile(name, os.O_RDWR, 0)
	require.NoError(tb, err)
	_, err = h.WriteAt(data, off)
	require.NoError(tb, err)
	require.NoError(tb, h.Close())
}

// persisted classifies every page of got as the durable one (false) or the
// unsynced one (true), failing if a page is neither.
func persisted(tb testing.TB, got, dur, cur []byte) []bool {
	tb.Helper()
	var out []bool
	for k := 0; k*pg < len(got); k++ {
		p := got[k*pg : min(len(got), (k+1)*pg)]
		switch {
		case bytes.Equal(p, pageOf(dur, k, len(p))):
			out = append(out, false)
		case bytes.Equal(p, pageOf(cur, k, len(p))):
			out = append(out, true)
		default:
			tb.Fatalf("page %d is neither its durable nor its unsynced content", k)
		}
	}
	return out
}

// pageOf returns n bytes of page k of b, zero padded.
func pageOf(b []byte, k, n int) []byte {
	out := make([]byte, n)
	if k*pg < len(b) {
		copy(out, b[k*pg:min(len(b), k*pg+n)])
	}
	return out
}

func isPrefix(kept []bool) bool {
	for i := 1; i < len(kept); i++ {
		if kept[i] && !kept[i-1] {
			return false
		}
	}
	return true
}

// TestCrashModelsPersistPages overwrites 8 synced pages without syncing
// them and crashes under each model with many seeds: every page is its
// durable or its new content, TornPrefix only ever keeps a prefix, and
// TornPages keeps arbitrary subsets, prefixes included.
func TestCrashModelsPersistPages(t *testing.T) {
	const n, seeds = 8, 200
	dur, cur := pages(n, 1), pages(n, 100)
	for _, m := range []faultfs.Model{faultfs.LoseUnsynced, faultfs.TornPrefix, faultfs.TornPages} {
		t.Run(m.String(), func(t *testing.T) {
			var prefixes, reordered, partial int
			for seed := range uint64(seeds) {
				f := faultfs.New()
				writeFile(t, f, "/a", dur, true)
				overwrite(t, f, "/a", cur, 0)
				rep := f.CrashWith(m, seed)
				got, err := f.ReadFile("/a")
				require.NoError(t, err)
				require.Len(t, got, n*pg)
				kept := persisted(t, got, dur, cur)
				nkept := 0
				for _, k := range kept {
					if k {
						nkept++
					}
				}
				require.Equal(t, faultfs.CrashReport{Files: 1, DirtyPages: n, PersistedPages: nkept, Reordered: rep.Reordered}, rep, "seed %d", seed)
				if m == faultfs.LoseUnsynced {
					require.Equal(t, dur, got, "seed %d", seed)
					continue
				}
				if isPrefix(kept) {
					prefixes++
					require.Zero(t, rep.Reordered, "seed %d", seed)
				} else {
					reordered++
					require.Equal(t, 1, rep.Reordered, "seed %d", seed)
				}
				if nkept > 0 && nkept < n {
					partial++
				}
			}
			t.Logf("%s over %d seeds: %d prefixes, %d reordered, %d partial", m, seeds, prefixes, reordered, partial)
			switch m {
			case faultfs.TornPrefix:
				require.Zero(t, reordered)
				require.Greater(t, partial, seeds/2)
			case faultfs.TornPages:
				require.Greater(t, reordered, seeds/2, "later pages survive earlier ones")
				require.Positive(t, prefixes, "prefixes happen too")
			}
		})
	}
}

// TestTornPagesGrownFile appends 4 pages to a synced page: a crash leaves
// the durable size grown as far as the persisted pages, or the new size
// with zeros in the new pages that did not persist (a hole).
func TestTornPagesGrownFile(t *testing.T) {
	dur, cur := pages(1, 1), append(pages(1, 1), pages(4, 50)...)
	sizes := map[int]int{}
	holes := 0
	for seed := range uint64(200) {
		f := faultfs.New()
		writeFile(t, f, "/a", dur, true)
		overwrite(t, f, "/a", cur[pg:], pg)
		f.CrashWith(faultfs.TornPages, seed)
		got, err := f.ReadFile("/a")
		require.NoError(t, err)
		sizes[len(got)]++
		kept := persisted(t, got, dur, cur)
		require.False(t, kept[0], "page 0 was synced and not rewritten")
		if len(got) > pg && len(got) < len(cur) {
			require.True(t, kept[len(kept)-1], "seed %d: the file grew only as far as its persisted pages", seed)
		}
		for k := 1; k < len(kept)-1; k++ {
			if !kept[k] && kept[k+1] {
				holes++
				require.Equal(t, make([]byte, pg), got[k*pg:(k+1)*pg], "seed %d: an unpersisted new page reads zeros", seed)
				break
			}
		}
	}
	t.Logf("sizes (pages: count): %v; %d crashes left a hole", sizes, holes)
	for k := 1; k <= 5; k++ {
		require.Positive(t, sizes[k*pg], "size %d pages never happened", k)
	}
	require.Positive(t, holes)
}

// TestSyncedDataSurvives writes and syncs at random, then crashes under a
// random model: what was synced and not written since survives, every
// other page is its durable or its current content, and no file is
// shorter than both its durable and its current size.
func TestSyncedDataSurvives(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("KEEL_FAULTFS_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseInt(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (KEEL_FAULTFS_SEED replays)", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	models := []faultfs.Model{faultfs.LoseUnsynced, faultfs.TornPrefix, faultfs.TornPages}
	for round := range 300 {
		f := faultfs.New()
		names := []string{"/a", "/b", "/c"}
		hs := map[string]wal.File{}
		for _, n := range names {
			hs[n] = create(t, f, n)
		}
		require.NoError(t, f.SyncDir("/"))
		durable := map[string][]byte{}
		for range 20 {
			n := names[rng.IntN(len(names))]
			if rng.IntN(3) == 0 {
				require.NoError(t, hs[n].Sync())
				durable[n], _ = f.ReadFile(n)
				continue
			}
			b := make([]byte, 1+rng.IntN(3*pg))
			for i := range b {
				b[i] = byte(1 + rng.IntN(255))
			}
			_, err := hs[n].WriteAt(b, int64(rng.IntN(6*pg)))
			require.NoError(t, err)
		}
		current := map[string][]byte{}
		for _, n := range names {
			current[n], _ = f.ReadFile(n)
		}
		m := models[rng.IntN(len(models))]
		f.CrashWith(m, rng.Uint64())
		for _, n := range names {
			got, err := f.ReadFile(n)
			require.NoError(t, err)
			dur, cur := durable[n], current[n]
			require.GreaterOrEqual(t, len(got), min(len(dur), len(cur)), "round %d %s %s", round, m, n)
			require.LessOrEqual(t, len(got), max(len(dur), len(cur)), "round %d %s %s", round, m, n)
			// Each page is its durable or its current content; so a
			// page not rewritten since its Sync is the synced one.
			persisted(t, got, dur, cur)
			if m == faultfs.LoseUnsynced {
				require.Equal(t, dur, got)
			}
		}
	}
}

// TestCrashReplaysBySeed crashes two clones of one state with the same
// seed (same result) and with other seeds (some other result).
func TestCrashReplaysBySeed(t *testing.T) {
	f := faultfs.New()
	for _, n := range []string{"/a", "/b"} {
		writeFile(t, f, n, pages(4, 1), true)
		overwrite(t, f, n, pages(6, 80), 0)
	}
	crash := func(seed uint64) (string, faultfs.CrashReport) {
		c := f.Clone()
		rep := c.CrashWith(faultfs.TornPages, seed)
		a, err := c.ReadFile("/a")
		require.NoError(t, err)
		b, err := c.ReadFile("/b")
		require.NoError(t, err)
		return string(a) + "|" + string(b), rep
	}
	want, wantRep := crash(42)
	for range 5 {
		got, rep := crash(42)
		require.Equal(t, want, got, "the same seed replays")
		require.Equal(t, wantRep, rep)
	}
	differs := false
	for seed := range uint64(20) {
		got, _ := crash(seed + 1000)
		differs = differs || got != want
	}
	require.True(t, differs, "other seeds give other crashes")
}

// TestCrashMidFsync crashes the file system when a Sync starts: the Sync
// fails as from a dead process, handles are stale, what earlier Syncs made
// durable survives, and of the pages the interrupted Sync was writing a
// random subset persisted.
func TestCrashMidFsync(t *testing.T) {
	dur, cur := pages(6, 1), pages(6, 100)
	var partial, none, all int
	for seed := range uint64(100) {
		f := faultfs.New()
		writeFile(t, f, "/a", dur, true)
		other := create(t, f, "/new") // never in a synced directory: lost
		h, err := f.OpenFile("/a", os.O_RDWR, 0)
		require.NoError(t, err)
		_, err = h.WriteAt(cur, 0)
		require.NoError(t, err)
		f.Inject(faultfs.Fault{Op: faultfs.OpSync, Pattern: "a", Times: 1, Crash: faultfs.TornPages, Seed: seed})

		n0, _ := f.Crashes()
		require.ErrorIs(t, h.Sync(), faultfs.ErrStaleHandle, "the process died in the fsync")
		n1, rep := f.Crashes()
		require.Equal(t, n0+1, n1)
		require.Equal(t, 6, rep.DirtyPages)
		_, err = h.WriteAt([]byte("x"), 0)
		require.ErrorIs(t, err, faultfs.ErrStaleHandle)
		_, err = other.Size()
		require.ErrorIs(t, err, faultfs.ErrStaleHandle)
		_, err = f.ReadFile("/new")
		require.ErrorIs(t, err, fs.ErrNotExist)

		got, err := f.ReadFile("/a")
		require.NoError(t, err)
		n := 0
		for _, k := range persisted(t, got, dur, cur) {
			if k {
				n++
			}
		}
		switch n {
		case 0:
			none++
		case 6:
			all++
		default:
			partial++
		}
		// The rule fired once: the restarted process syncs normally.
		h, err = f.OpenFile("/a", os.O_RDWR, 0)
		require.NoError(t, err)
		_, err = h.WriteAt(cur, 0)
		require.NoError(t, err)
		require.NoError(t, h.Sync())
		f.Crash()
		got, err = f.ReadFile("/a")
		require.NoError(t, err)
		require.Equal(t, cur, got)
	}
	t.Logf("interrupted fsyncs of 6 pages: %d persisted none, %d some, %d all", none, partial, all)
	require.Positive(t, partial)
}

// TestCrashAtOperation crashes at a rename: it does not happen, and the
// caller sees ErrStaleHandle.
func TestCrashAtOperation(t *testing.T) {
	f := faultfs.New()
	writeFile(t, f, "/a", []byte("v1"), true)
	f.Inject(faultfs.Fault{Op: faultfs.OpRename, Crash: faultfs.LoseUnsynced, Times: 1})
	require.ErrorIs(t, f.Rename("/a", "/b"), faultfs.ErrStaleHandle)
	names, err := f.ReadDir("/")
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, names)
	require.Panics(t, func() { f.Inject(faultfs.Fault{Op: faultfs.OpSync}) }, "neither Err nor Crash")
	require.Panics(t, func() { f.Inject(faultfs.Fault{Op: faultfs.OpSync, Crash: 9}) }, "no such model")
}

// TestMetadataNeedsSyncDir checks, under every model, that creates,
// renames (also over an existing file) and unlinks are lost unless their
// directory was synced, and durable if it was.
func TestMetadataNeedsSyncDir(t *testing.T) {
	cases := []struct {
		name string
		op   func(t *testing.T, f *faultfs.FS)
		// The files and contents after a crash, without and with a
		// SyncDir after op.
		lost, kept map[string]string
	}{
		{"create", func(t *testing.T, f *faultfs.FS) {
			h := create(t, f, "/d/c")
			_, err := h.WriteAt([]byte("new"), 0)
			require.NoError(t, err)
			require.NoError(t, h.Sync())
		}, map[string]string{"a": "A", "b": "B"}, map[string]string{"a": "A", "b": "B", "c": "new"}},
		{"rename", func(t *testing.T, f *faultfs.FS) {
			require.NoError(t, f.Rename("/d/a", "/d/z"))
		}, map[string]string{"a": "A", "b": "B"}, map[string]string{"z": "A", "b": "B"}},
		{"rename over existing", func(t *testing.T, f *faultfs.FS) {
			require.NoError(t, f.Rename("/d/a", "/d/b"))
		}, map[string]string{"a": "A", "b": "B"}, map[string]string{"b": "A"}},
		{"unlink", func(t *testing.T, f *faultfs.FS) {
			require.NoError(t, f.Remove("/d/b"))
		}, map[string]string{"a": "A", "b": "B"}, map[string]string{"a": "A"}},
	}
	for _, m := range []faultfs.Model{faultfs.LoseUnsynced, faultfs.TornPrefix, faultfs.TornPages} {
		for _, tc := range cases {
			for _, syncDir := range []bool{false, true} {
				t.Run(m.String()+"/"+tc.name+"/syncdir="+strconv.FormatBool(syncDir), func(t *testing.T) {
					f := faultfs.New()
					require.NoError(t, f.MkdirAll("/d", 0o755))
					for _, n := range []string{"a", "b"} {
						h := create(t, f, "/d/"+n)
						_, err := h.WriteAt([]byte(string(n[0]-'a'+'A')), 0)
						require.NoError(t, err)
						require.NoError(t, h.Sync())
					}
					require.NoError(t, f.SyncDir("/d"))
					tc.op(t, f)
					want := tc.lost
					if syncDir {
						require.NoError(t, f.SyncDir("/d"))
						want = tc.kept
					}
					f.CrashWith(m, 1)
					got := map[string]string{}
					names, err := f.ReadDir("/d")
					require.NoError(t, err)
					for _, n := range names {
						b, err := f.ReadFile("/d/" + n)
						require.NoError(t, err)
						got[n] = string(b)
					}
					require.Equal(t, want, got)
				})
			}
		}
	}
}

// TestCrashUndoesRenameForRules: after a crash undid a rename, fault rules
// and the sync hook see the file under its durable name again.
func TestCrashUndoesRenameForRules(t *testing.T) {
	f := faultfs.New()
	writeFile(t, f, "/old", []byte("v1"), true)
	require.NoError(t, f.Rename("/old", "/new"))
	f.Crash()
	h, err := f.OpenFile("/old", os.O_RDWR, 0)
	require.NoError(t, err)
	var seen []string
	f.SetSyncHook(func(name string) { seen = append(seen, name) })
	require.NoError(t, h.Sync())
	require.Equal(t, []string{"/old"}, seen)
}
