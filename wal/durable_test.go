package wal_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// openDeferred opens a WAL with Config.DeferSync in fsys.
func openDeferred(tb testing.TB, fsys *faultfs.FS, segSize int64) *wal.WAL {
	tb.Helper()
	w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: segSize, DeferSync: true})
	require.NoError(tb, err)
	return w
}

// segSyncGate blocks segment syncs while closed is false; release lets
// them (and every later one) through.
type segSyncGate struct {
	mu      sync.Mutex
	blocked chan struct{}
	entered chan struct{} // receives once per blocked sync
}

func newSegSyncGate(fsys *faultfs.FS) *segSyncGate {
	g := &segSyncGate{blocked: make(chan struct{}), entered: make(chan struct{}, 64)}
	fsys.SetSyncHook(func(name string) {
		if !strings.HasSuffix(name, ".seg") {
			return
		}
		g.mu.Lock()
		ch := g.blocked
		g.mu.Unlock()
		select {
		case <-ch:
			return
		default:
		}
		g.entered <- struct{}{}
		<-ch
	})
	return g
}

func (g *segSyncGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.blocked:
	default:
		close(g.blocked)
	}
}

func TestDeferSyncDurableFollowsSyncs(t *testing.T) {
	fsys := faultfs.New()
	w := openDeferred(t, fsys, 1<<20)
	defer w.Close()
	require.NoError(t, w.StoreLogs(makeLogs(1, 1, 1))) // creates the segment (its creation syncs)
	require.NoError(t, w.WaitDurable(context.Background(), 1))
	gate := newSegSyncGate(fsys)
	defer gate.release()

	require.NoError(t, w.StoreLogs(makeLogs(2, 4, 1)))
	<-gate.entered // the syncer is inside the sync of 2..5
	// Written but not durable: StoreLogs returned, readers see the entries.
	last, err := w.LastIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(5), last)
	require.Equal(t, uint64(1), w.Durable())
	require.NoError(t, w.StoreLogs(makeLogs(6, 3, 1)))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, w.WaitDurable(ctx, 2), context.DeadlineExceeded)

	gate.release()
	require.NoError(t, w.WaitDurable(context.Background(), 8))
	require.Equal(t, uint64(8), w.Durable())
	requireLogs(t, w, makeLogs(1, 8, 1))
}

func TestDeferSyncCrashKeepsDurableEntries(t *testing.T) {
	fsys := faultfs.New()
	w := openDeferred(t, fsys, 1<<20)
	require.NoError(t, w.StoreLogs(makeLogs(1, 10, 1)))
	require.NoError(t, w.WaitDurable(context.Background(), 10))

	gate := newSegSyncGate(fsys)
	require.NoError(t, w.StoreLogs(makeLogs(11, 4, 1)))
	<-gate.entered
	require.Equal(t, uint64(10), w.Durable())
	fsys.Crash() // 11..14 were never synced: lost
	gate.release()
	require.NoError(t, w.Close())

	fsys.SetSyncHook(nil)
	w2 := openMem(t, fsys, 1<<20)
	defer w2.Close()
	requireLogs(t, w2, makeLogs(1, 10, 1))
	require.Equal(t, uint64(10), w2.Durable())
	require.NoError(t, w2.StoreLogs(makeLogs(11, 2, 2)), "appends continue after the lost tail")
}

func TestDeferSyncStructuralChangesFlushFirst(t *testing.T) {
	tests := []struct {
		name string
		op   func(w *wal.WAL) error
		// After op and a crash the log is entries wantFirst.. (at least
		// minN, at most maxN of them); Durable is then its last index.
		wantFirst, minN, maxN uint64
	}{
		{"tail truncation", func(w *wal.WAL) error { return w.DeleteRange(7, 12) }, 1, 6, 6},
		{"head truncation", func(w *wal.WAL) error { return w.DeleteRange(1, 4) }, 5, 8, 8},
		// The sealed segment's batches were flushed before rotating; the
		// rotating batch itself survives only if the syncer got to it.
		{"rotation", func(w *wal.WAL) error { return w.StoreLogs(makeLogs(13, 40, 1)) }, 1, 12, 52},
		{"close", func(w *wal.WAL) error { return w.Close() }, 1, 12, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := faultfs.New()
			w := openDeferred(t, fsys, 2048)
			defer w.Close()
			require.NoError(t, w.StoreLogs(makeLogs(1, 12, 1)))
			require.NoError(t, tc.op(w))
			fsys.Crash() // only what was synced survives
			require.NoError(t, w.Close())
			w2 := openMem(t, fsys, 2048)
			defer w2.Close()
			last, err := w2.LastIndex()
			require.NoError(t, err)
			n := last - tc.wantFirst + 1
			require.True(t, n >= tc.minN && n <= tc.maxN, "%d entries survived, want %d..%d", n, tc.minN, tc.maxN)
			requireLogs(t, w2, makeLogs(tc.wantFirst, int(n), 1))
			require.Equal(t, last, w2.Durable())
		})
	}
}

func TestDeferSyncTailTruncationLowersDurable(t *testing.T) {
	fsys := faultfs.New()
	w := openDeferred(t, fsys, 1<<20)
	defer w.Close()
	require.NoError(t, w.StoreLogs(makeLogs(1, 10, 1)))
	require.NoError(t, w.WaitDurable(context.Background(), 10))
	require.NoError(t, w.DeleteRange(6, 10))
	require.Equal(t, uint64(5), w.Durable())

	// The next batch opens a new segment (the truncated one is sealed).
	require.NoError(t, w.StoreLogs(makeLogs(6, 1, 2)))
	require.NoError(t, w.WaitDurable(context.Background(), 6))
	gate := newSegSyncGate(fsys)
	defer gate.release()
	require.NoError(t, w.StoreLogs(makeLogs(7, 4, 2)))
	<-gate.entered
	require.Equal(t, uint64(6), w.Durable(), "rewritten entries 7..10 are not durable until synced")
	gate.release()
	require.NoError(t, w.WaitDurable(context.Background(), 10))
	requireLogs(t, w, append(makeLogs(1, 5, 1), makeLogs(6, 5, 2)...))
}

func TestDeferSyncFailedSyncFailStops(t *testing.T) {
	fsys := faultfs.New()
	w := openDeferred(t, fsys, 1<<20)
	defer w.Close()
	require.NoError(t, w.StoreLogs(makeLogs(1, 3, 1)))
	require.NoError(t, w.WaitDurable(context.Background(), 3))

	fsys.Inject(faultfs.Fault{Op: faultfs.OpSync, Pattern: "*.seg", Err: syscall.EIO})
	require.NoError(t, w.StoreLogs(makeLogs(4, 2, 1)), "the write itself succeeds")
	err := w.WaitDurable(context.Background(), 5)
	require.ErrorIs(t, err, wal.ErrFailed)
	require.ErrorIs(t, err, syscall.EIO)
	require.ErrorIs(t, w.Err(), wal.ErrFailed)
	require.Equal(t, uint64(3), w.Durable())
	require.ErrorIs(t, w.StoreLogs(makeLogs(6, 1, 1)), wal.ErrFailed)
	// Entries acknowledged as durable stay readable.
	requireLogs(t, w, makeLogs(1, 5, 1))
}

func TestDeferSyncWaitDurableAfterClose(t *testing.T) {
	fsys := faultfs.New()
	w := openDeferred(t, fsys, 1<<20)
	require.NoError(t, w.StoreLogs(makeLogs(1, 2, 1)))
	done := make(chan error, 1)
	go func() { done <- w.WaitDurable(context.Background(), 100) }()
	require.NoError(t, w.Close())
	select {
	case err := <-done:
		require.True(t, errors.Is(err, wal.ErrClosed), "got %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("WaitDurable did not return after Close")
	}
	require.NoError(t, w.Close(), "Close is idempotent")
}

func TestSyncModeDurableIsLastIndex(t *testing.T) {
	fsys := faultfs.New()
	w := openMem(t, fsys, 1<<20)
	defer w.Close()
	require.NoError(t, w.StoreLogs(makeLogs(1, 4, 1)))
	require.Equal(t, uint64(4), w.Durable())
	require.NoError(t, w.WaitDurable(context.Background(), 4))
}

func TestAbandonDoesNotSync(t *testing.T) {
	tests := []struct {
		name      string
		powerCut  bool   // the file system drops unsynced writes after Abandon
		wantCount uint64 // entries a reopen finds
	}{
		{name: "killed process keeps written batches", wantCount: 14},
		{name: "power cut loses unsynced batches", powerCut: true, wantCount: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := faultfs.New()
			w := openDeferred(t, fsys, 1<<20)
			require.NoError(t, w.StoreLogs(makeLogs(1, 10, 1)))
			require.NoError(t, w.WaitDurable(context.Background(), 10))
			gate := newSegSyncGate(fsys)
			defer gate.release()
			require.NoError(t, w.StoreLogs(makeLogs(11, 4, 1)))
			<-gate.entered // the syncer is inside the sync of 11..14

			done := make(chan error, 1)
			go func() { done <- w.Abandon() }()
			// Abandon closes the WAL before it waits for the syncer (Close
			// would flush first, and wait for the blocked sync).
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.ErrorIs(t, w.WaitDurable(ctx, 14), wal.ErrClosed)
			if tc.powerCut {
				fsys.Crash() // the sync in flight never completes
			}
			gate.release()
			require.NoError(t, <-done)
			require.NoError(t, w.Close(), "Close after Abandon is a no-op")
			require.ErrorIs(t, w.StoreLogs(makeLogs(15, 1, 1)), wal.ErrClosed)

			fsys.SetSyncHook(nil)
			w2 := openMem(t, fsys, 1<<20)
			defer w2.Close()
			requireLogs(t, w2, makeLogs(1, int(tc.wantCount), 1))
		})
	}
}

func TestDeferWhen(t *testing.T) {
	tests := []struct {
		name     string
		deferred bool
	}{
		{name: "deferred: returns before the sync", deferred: true},
		{name: "not deferred: returns after the sync", deferred: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := faultfs.New()
			var deferring atomic.Bool
			deferring.Store(true)
			w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 1 << 20, DeferSync: true, DeferWhen: deferring.Load})
			require.NoError(t, err)
			defer w.Close()
			require.NoError(t, w.StoreLogs(makeLogs(1, 2, 1)))
			require.NoError(t, w.WaitDurable(context.Background(), 2))

			deferring.Store(tc.deferred)
			gate := newSegSyncGate(fsys)
			defer gate.release()
			done := make(chan error, 1)
			go func() { done <- w.StoreLogs(makeLogs(3, 2, 1)) }()
			<-gate.entered // a sync of 3..4 is under way (the syncer's or StoreLogs' own)
			if tc.deferred {
				require.NoError(t, <-done, "StoreLogs returned while its batch syncs")
				require.Equal(t, uint64(2), w.Durable())
				gate.release()
				require.NoError(t, w.WaitDurable(context.Background(), 4))
				return
			}
			require.Empty(t, done, "StoreLogs returned before its batch was durable")
			gate.release()
			require.NoError(t, <-done)
			require.Equal(t, uint64(4), w.Durable(), "durable when StoreLogs returns")
		})
	}
}

// TestDeferWhenAfterSyncerStopped checks that a batch that must not be
// deferred is still made durable when Close has already stopped the
// background sync (StoreLogs racing Close), instead of waiting forever.
func TestDeferWhenAfterSyncerStopped(t *testing.T) {
	fsys := faultfs.New()
	w, err := wal.Open(memDir, wal.Config{FS: fsys, SegmentSize: 1 << 20, DeferSync: true, DeferWhen: func() bool { return false }})
	require.NoError(t, err)
	require.NoError(t, w.StoreLogs(makeLogs(1, 2, 1)))
	w.StopSyncer()
	done := make(chan error, 1)
	go func() { done <- w.StoreLogs(makeLogs(3, 2, 1)) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("StoreLogs waited for a stopped syncer")
	}
	require.Equal(t, uint64(4), w.Durable())
	require.NoError(t, w.Close()) // not deferred: after a hung StoreLogs it would hang too
}
