package faultfs

import (
	"bytes"
	"math/rand/v2"
	"path"
	"slices"
)

// PageSize is the unit in which a torn crash persists or drops unsynced
// data: a file's bytes [k*PageSize, (k+1)*PageSize) are page k.
const PageSize = 4096

// Model says what a crash keeps of the data written to files since their
// last Sync. Directories revert to their last SyncDir under every model.
type Model int

// Crash models. The zero Model is not one: in a Fault it means "fail, do
// not crash".
const (
	// LoseUnsynced keeps nothing that was not synced: every file reverts
	// to its content at its last successful Sync. It is the model of
	// Crash.
	LoseUnsynced Model = iota + 1
	// TornPrefix keeps, of each file's unsynced pages in file order, a
	// random prefix (none, some or all of them): a power cut that found
	// the write-back in progress, written strictly in file order.
	TornPrefix
	// TornPages keeps a random subset of each file's unsynced pages, each
	// page independently (a later page may survive an earlier one), and
	// persists or drops a size change independently of the pages: a power
	// cut that found a disk's write cache or the kernel's write-back
	// reordering the pages.
	TornPages
)

// String returns the model's name.
func (m Model) String() string {
	switch m {
	case LoseUnsynced:
		return "lose-unsynced"
	case TornPrefix:
		return "torn-prefix"
	case TornPages:
		return "torn-pages"
	default:
		return "model?"
	}
}

// CrashReport says what one crash did to the files' unsynced data.
type CrashReport struct {
	Files          int // files that had unsynced data or an unsynced size change
	DirtyPages     int // their unsynced pages (content differing from the durable one)
	PersistedPages int // of those, the pages the crash persisted
	// Reordered counts the files in which some unsynced page persisted
	// while an earlier unsynced page of the same file did not.
	Reordered int
}

// Crash simulates a power loss that persisted nothing since the last syncs
// (the LoseUnsynced model): every file reverts to its content at its last
// successful Sync, every directory to its entries at its last successful
// SyncDir, and all open handles become stale. Fault rules and the sync
// delay and hook are kept.
func (f *FS) Crash() {
	f.CrashWith(LoseUnsynced, 0)
}

// CrashWith simulates a power loss under model m, drawing its random
// choices from a generator seeded with seed, so that the same seed on the
// same state gives the same result. Every directory reverts to its entries
// at its last successful SyncDir and all open handles become stale, as
// with Crash; what each file keeps of its unsynced data is the model's
// choice. Fault rules and the sync delay and hook are kept.
func (f *FS) CrashWith(m Model, seed uint64) CrashReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashLocked(m, newRand(seed))
}

// Crashes returns how many times the file system has crashed (Crash,
// CrashWith or a Fault's Crash) and the report of the last crash, for
// tests that wait for a Fault to crash it.
func (f *FS) Crashes() (int, CrashReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashes, f.lastCrash
}

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// crashLocked implements CrashWith. Directories and their entries are
// visited in sorted order so that a seed replays. Caller holds mu.
func (f *FS) crashLocked(m Model, rng *rand.Rand) CrashReport {
	if m < LoseUnsynced || m > TornPages {
		panic("faultfs: unknown crash model")
	}
	f.epoch++
	var rep CrashReport
	seen := map[*node]bool{}
	for _, p := range slices.Sorted(keys(f.dirs)) {
		d := f.dirs[p]
		d.entries = maps(d.durable)
		for _, base := range slices.Sorted(keys(d.entries)) {
			n := d.entries[base]
			if seen[n] {
				continue
			}
			seen[n] = true
			n.name = path.Join(p, base) // an unsynced rename is undone
			n.data = n.crashed(m, rng, &rep)
			n.durable = slices.Clone(n.data)
		}
	}
	f.crashes++
	f.lastCrash = rep
	return rep
}

func keys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// crashed returns the content a crash leaves of n under model m.
//
// A page is unsynced when its current bytes differ from its durable ones
// (both read as zeros past their file's end). Each model picks which
// unsynced pages persist; every other page keeps its durable bytes. The
// size: if it did not change, it stays. A changed size persists under
// TornPrefix when every unsynced page did, and under TornPages with
// probability 1/2 (a grown file then reads zeros in its new pages that did
// not persist, as ext4 can leave it); otherwise the file keeps its durable
// size, grown just enough to hold the new pages that persisted.
func (n *node) crashed(m Model, rng *rand.Rand, rep *CrashReport) []byte {
	cur, dur := n.data, n.durable
	if bytes.Equal(cur, dur) {
		return slices.Clone(dur)
	}
	var dirty []int
	for k := range (max(len(cur), len(dur)) + PageSize - 1) / PageSize {
		if !samePage(cur, dur, k) {
			dirty = append(dirty, k)
		}
	}
	rep.Files++
	rep.DirtyPages += len(dirty)
	if m == LoseUnsynced {
		return slices.Clone(dur)
	}
	keep := map[int]bool{}
	last := -1 // the last persisted page
	switch m {
	case TornPrefix:
		for _, k := range dirty[:rng.IntN(len(dirty)+1)] {
			keep[k], last = true, k
		}
	case TornPages:
		dropped := false
		reordered := false
		for _, k := range dirty {
			if rng.IntN(2) == 0 {
				dropped = true
				continue
			}
			keep[k], last = true, k
			reordered = reordered || dropped
		}
		if reordered {
			rep.Reordered++
		}
	}
	rep.PersistedPages += len(keep)

	size := len(dur)
	switch {
	case len(cur) == len(dur):
	case m == TornPages && rng.IntN(2) == 0:
		size = len(cur)
	case m == TornPrefix && len(keep) == len(dirty):
		size = len(cur)
	case len(cur) > len(dur) && last >= 0:
		size = max(size, min(len(cur), (last+1)*PageSize))
	}
	out := make([]byte, size)
	for k := range (size + PageSize - 1) / PageSize {
		src := dur
		if keep[k] {
			src = cur
		}
		copy(out[k*PageSize:min(size, (k+1)*PageSize)], page(src, k))
	}
	return out
}

// page returns page k of b: shorter, or empty, where b ends (the missing
// bytes read as zeros).
func page(b []byte, k int) []byte {
	lo := k * PageSize
	if lo >= len(b) {
		return nil
	}
	return b[lo:min(len(b), lo+PageSize)]
}

// samePage reports whether page k of a and of b hold the same bytes, the
// missing bytes of a short page reading as zeros.
func samePage(a, b []byte, k int) bool {
	pa, pb := page(a, k), page(b, k)
	if len(pa) < len(pb) {
		pa, pb = pb, pa
	}
	return bytes.Equal(pa[:len(pb)], pb) && !slices.ContainsFunc(pa[len(pb):], func(c byte) bool { return c != 0 })
}
