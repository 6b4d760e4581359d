package mvcc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fragmented fills s with n keys of 2 KiB values, overwrites each twice,
// attaches some keys to a lease, deletes all but every tenth key, sets the
// cluster state, compacts to the current revision and waits until the
// compacted records are gone from bbolt: most of the file is then free
// pages. It returns the next raft index.
func fragmented(tb testing.TB, s *Store, n int) uint64 {
	tb.Helper()
	val := strings.Repeat("v", 2048)
	idx := uint64(1)
	inTxn(tb, s, idx, func(tx *TxnWrite) { require.NoError(tb, tx.GrantLease(7, 60)) })
	idx++
	for round := range 3 {
		for lo := 0; lo < n; lo += 50 {
			tx := s.Write(idx)
			for i := lo; i < min(lo+50, n); i++ {
				lease := int64(0)
				if i%20 == 0 {
					lease = 7
				}
				tx.Put(fmt.Appendf(nil, "key/%05d", i), fmt.Appendf(nil, "%d/%s", round, val), lease)
			}
			tx.End()
			idx++
		}
	}
	for lo := 0; lo < n; lo += 10 {
		tx := s.Write(idx)
		tx.DeleteRange(fmt.Appendf(nil, "key/%05d", lo+1), fmt.Appendf(nil, "key/%05d", lo+10))
		tx.End()
		idx++
	}
	tx := s.Write(idx)
	tx.SetClusterState([]byte("members"))
	done, err := tx.Compact(s.Rev())
	require.NoError(tb, err)
	tx.End()
	idx++
	waitDone(tb, done, "physical compaction")
	require.NoError(tb, s.ForceCommit())
	return idx
}

// storeView is what a defragmentation must not change.
type storeView struct {
	Hash    uint32
	Rev     int64
	Compact int64
	Index   uint64
	Latest  []*KeyValue
	AtComp  []*KeyValue
	Leases  []LeaseRecord
	Leased  []string
	Cluster string
	Revs    []int64 // the revisions stored in bbolt
}

func viewStore(tb testing.TB, s *Store) storeView {
	tb.Helper()
	h, rev, err := s.Hash()
	require.NoError(tb, err)
	v := storeView{
		Hash: h, Rev: rev, Compact: s.CompactRev(), Index: s.ConsistentIndex(),
		Latest: rangeOK(tb, s, "\x00", "\x00", RangeOptions{}).KVs,
		Leases: s.Leases(), Leased: strs(s.LeaseKeys(7)), Cluster: string(s.ClusterState()),
		Revs: boltRevs(tb, s),
	}
	if v.Compact > 0 {
		v.AtComp = rangeOK(tb, s, "\x00", "\x00", RangeOptions{Rev: v.Compact}).KVs
	}
	return v
}

// requireNoDefragTemp checks that no copy is left next to the database.
func requireNoDefragTemp(tb testing.TB, path string) {
	tb.Helper()
	_, err := os.Stat(path + defragTempSuffix)
	require.ErrorIs(tb, err, os.ErrNotExist, "the defrag copy was left behind")
}

func TestDefragShrinksAndKeepsData(t *testing.T) {
	s, path := openStore(t, Config{noSync: true, defragChunkBytes: 64 << 10})
	fragmented(t, s, 2000)
	want := viewStore(t, s)
	size, inUse, err := s.SpaceUsage()
	require.NoError(t, err)
	require.Less(t, inUse, size/3, "the fixture leaves most of the database free")
	fileBefore, err := fileSize(path)
	require.NoError(t, err)
	require.LessOrEqual(t, size, fileBefore)

	st, err := s.Defrag(t.Context())
	require.NoError(t, err)
	t.Logf("defrag: %+v", st)
	require.Equal(t, fileBefore, st.SizeBefore)
	require.Less(t, st.SizeAfter, st.SizeBefore/2, "the file shrinks")
	onDisk, err := fileSize(path)
	require.NoError(t, err)
	require.Equal(t, st.SizeAfter, onDisk)
	require.EqualValues(t, len(want.Revs), st.Records, "every key record was copied once")
	require.Equal(t, want, viewStore(t, s), "the data is the same")
	requireNoDefragTemp(t, path)
	size2, inUse2, err := s.SpaceUsage()
	require.NoError(t, err)
	require.Equal(t, onDisk, size2, "the copy has no free tail")
	require.LessOrEqual(t, inUse2, size2)
	require.Greater(t, inUse2, size2*3/4, "the copy has few free pages")

	// The store goes on: writes commit to the new file and survive a
	// reopen, and compaction works.
	putKVs(t, s, 10000, "after", "defrag")
	tx := s.Write(10001)
	done, err := tx.Compact(s.Rev())
	require.NoError(t, err)
	tx.End()
	waitDone(t, done, "compaction after defrag")
	want = viewStore(t, s)
	require.NoError(t, s.Close())
	require.Equal(t, want, viewStore(t, reopen(t, path, Config{})), "the same after a reopen")
}

// TestDefragUnderLoad defragments while a writer commits txns (each puts
// two keys to the same value, or deletes both) and readers check that they
// see whole txns. Afterwards every revision written is in the new file,
// and the state is the same after a reopen.
func TestDefragUnderLoad(t *testing.T) {
	s, path := openStore(t, Config{CommitInterval: time.Millisecond, CommitLimit: 50, noSync: true, defragChunkBytes: 4 << 10})
	big := strings.Repeat("x", 512)
	for i := range uint64(400) { // a few hundred KiB to copy
		putKVs(t, s, i+1, fmt.Sprintf("fill/%04d", i), big)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	var written atomic.Int64
	wg.Go(func() {
		for i := uint64(1000); !stop.Load(); i++ {
			tx := s.Write(i)
			if i%7 == 0 {
				tx.DeleteRange([]byte("x"), []byte("z"))
			} else {
				v := fmt.Appendf(nil, "%d/%s", i, big[:i%200])
				tx.Put([]byte("x"), v, 0)
				tx.Put([]byte("y"), v, 0)
			}
			tx.End()
			written.Add(1)
		}
	})
	for r := range 2 {
		wg.Go(func() {
			for !stop.Load() {
				res, err := s.Range([]byte("x"), []byte("z"), RangeOptions{})
				if err == nil {
					err = checkPair(res)
				}
				if err == nil && res.Rev > 2 {
					_, err = s.Range([]byte("fill/"), []byte("fill0"), RangeOptions{Rev: res.Rev - 1, CountOnly: true})
				}
				if err != nil {
					report(fmt.Errorf("reader %d: %w", r, err))
					return
				}
			}
		})
	}
	var stats []DefragStats
	for range 3 {
		before := written.Load()
		st, err := s.Defrag(t.Context())
		require.NoError(t, err)
		stats = append(stats, st)
		t.Logf("defrag: %+v; %d txns written meanwhile", st, written.Load()-before)
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
	require.Positive(t, written.Load())

	want := viewStore(t, s)
	require.NoError(t, s.ForceCommit())
	revs := boltRevs(t, s)
	// No compaction ran: every revision from 2 on is stored, once per
	// change (the last txns may still be pending in the overlay: none now).
	require.Equal(t, want.Rev, revs[len(revs)-1])
	for i := 1; i < len(revs); i++ {
		require.LessOrEqual(t, revs[i]-revs[i-1], int64(1), "revision %d missing after %d", revs[i-1]+1, revs[i-1])
	}
	require.NoError(t, s.Close())
	got := viewStore(t, reopen(t, path, Config{}))
	want.Revs = revs
	require.Equal(t, want, got)
	requireNoDefragTemp(t, path)
}

// TestDefragDoesNotBlock checks that reads and write txns complete while
// Defrag copies and while its switch holds commits.
func TestDefragDoesNotBlock(t *testing.T) {
	s, _ := openStore(t, Config{noSync: true, defragChunkBytes: 64 << 10})
	idx := fragmented(t, s, 300)
	var steps []defragStep
	s.defragHook = func(step defragStep) error {
		steps = append(steps, step)
		if step != defragStepCopied && step != defragStepLocked {
			return nil
		}
		idx++
		i := idx
		done := make(chan error, 1)
		go func() {
			if _, err := s.Range([]byte("key/"), []byte("key0"), RangeOptions{}); err != nil {
				done <- err
				return
			}
			tx := s.Write(i)
			tx.Put(fmt.Appendf(nil, "during/%d", step), []byte("v"), 0)
			tx.End()
			res, err := s.Range(fmt.Appendf(nil, "during/%d", step), nil, RangeOptions{})
			if err == nil && len(res.KVs) != 1 {
				err = errors.New("the write is not visible")
			}
			done <- err
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return fmt.Errorf("a read or write blocked at step %d", step)
		}
	}
	_, err := s.Defrag(t.Context())
	require.NoError(t, err)
	require.Equal(t, []defragStep{defragStepCopied, defragStepLocked, defragStepSynced, defragStepRenamed}, steps)
	require.Len(t, rangeOK(t, s, "during/", "during0", RangeOptions{}).KVs, 2)
}

// TestDefragAbort stops a defragmentation at each point where it may
// stop: the database file is untouched, the copy is removed, and the
// store goes on (commits, and compaction, which the run paused).
func TestDefragAbort(t *testing.T) {
	errHook := errors.New("hook says stop")
	for _, tc := range []struct {
		name    string
		at      defragStep
		cancel  bool // the hook cancels ctx instead of failing
		wantErr error
	}{
		{"ctx done before", 0, true, context.Canceled},
		{"ctx done while copying", defragStepCopied, true, context.Canceled},
		{"error while copying", defragStepCopied, false, errHook},
		{"error at switch", defragStepLocked, false, errHook},
		{"error before rename", defragStepSynced, false, errHook},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openStore(t, Config{noSync: true})
			idx := fragmented(t, s, 200)
			want := viewStore(t, s)
			fiBefore, err := os.Stat(path)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.at == 0 {
				cancel()
			}
			s.defragHook = func(step defragStep) error {
				if step != tc.at {
					return nil
				}
				_, err := os.Stat(path + defragTempSuffix)
				require.NoError(t, err, "the copy exists while the run goes on")
				if tc.cancel {
					cancel()
					return nil
				}
				return errHook
			}
			_, err = s.Defrag(ctx)
			require.ErrorIs(t, err, tc.wantErr)
			fiAfter, err := os.Stat(path)
			require.NoError(t, err)
			require.True(t, os.SameFile(fiBefore, fiAfter), "the database file was replaced")
			requireNoDefragTemp(t, path)
			require.Equal(t, want, viewStore(t, s))

			putKVs(t, s, idx, "after", "abort")
			tx := s.Write(idx + 1)
			deleted := tx.DeleteRange([]byte("key/"), []byte("key0"))
			require.Positive(t, deleted)
			tx.End()
			putKVs(t, s, idx+2, "after2", "abort")
			tx = s.Write(idx + 3)
			done, err := tx.Compact(s.Rev())
			require.NoError(t, err)
			tx.End()
			waitDone(t, done, "compaction after an aborted defrag")
			// The deleted keys' history is gone: only the two puts after
			// it are stored.
			require.Equal(t, []int64{s.Rev() - 2, s.Rev()}, boltRevs(t, s))
		})
	}
}

// copyFile copies src to dst if src exists.
func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(tb, err)
	defer in.Close()
	out, err := os.Create(dst)
	require.NoError(tb, err)
	_, err = io.Copy(out, in)
	require.NoError(tb, err)
	require.NoError(tb, out.Close())
}

// TestDefragCrashAtEachStep takes an image of the database's directory at
// each step of a defragmentation, as a process crash there would leave it,
// and opens it: the database is complete either way (the old file or the
// new one), with the same data, and the copy is removed.
func TestDefragCrashAtEachStep(t *testing.T) {
	s, path := openStore(t, Config{noSync: true, defragChunkBytes: 32 << 10})
	fragmented(t, s, 300)
	want := viewStore(t, s)
	oldSize, err := fileSize(path)
	require.NoError(t, err)
	images := map[defragStep]string{}
	s.defragHook = func(step defragStep) error {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(step))
		require.NoError(t, os.MkdirAll(dir, 0o700))
		copyFile(t, path, filepath.Join(dir, filepath.Base(path)))
		copyFile(t, path+defragTempSuffix, filepath.Join(dir, filepath.Base(path)+defragTempSuffix))
		images[step] = filepath.Join(dir, filepath.Base(path))
		return nil
	}
	st, err := s.Defrag(t.Context())
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		step    defragStep
		wantNew bool // the image holds the new file at the path
		hasCopy bool // the image holds a copy for Open to remove
	}{
		{"while copying", defragStepCopied, false, true},
		{"switch holding commits", defragStepLocked, false, true},
		{"copy complete, not renamed", defragStepSynced, false, true},
		{"renamed, directory not synced", defragStepRenamed, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := images[tc.step]
			require.NotEmpty(t, img, "no image at this step")
			_, err := os.Stat(img + defragTempSuffix)
			require.Equal(t, tc.hasCopy, err == nil, "copy in the image")
			size, err := fileSize(img)
			require.NoError(t, err)
			if tc.wantNew {
				require.Equal(t, st.SizeAfter, size)
			} else {
				require.Equal(t, oldSize, size)
			}
			got := viewStore(t, reopen(t, img, Config{}))
			require.Equal(t, want, got)
			requireNoDefragTemp(t, img)
		})
	}
}

// TestDefragOneAtATime: a second Defrag waits for the running one (and
// gives up when its ctx ends), then runs.
func TestDefragOneAtATime(t *testing.T) {
	s, _ := openStore(t, Config{noSync: true})
	fragmented(t, s, 100)
	var mu sync.Mutex
	var steps []defragStep
	entered, release := make(chan struct{}), make(chan struct{})
	first := true
	s.defragHook = func(step defragStep) error {
		mu.Lock()
		steps = append(steps, step)
		hold := first && step == defragStepCopied
		first = first && !hold
		mu.Unlock()
		if hold {
			close(entered)
			<-release
		}
		return nil
	}
	firstDone := make(chan error, 1)
	go func() {
		_, err := s.Defrag(t.Context())
		firstDone <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	_, err := s.Defrag(ctx)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "a second call waits for the first")
	thirdDone := make(chan error, 1)
	go func() {
		_, err := s.Defrag(t.Context())
		thirdDone <- err
	}()
	close(release)
	require.NoError(t, <-firstDone)
	require.NoError(t, <-thirdDone)
	run := []defragStep{defragStepCopied, defragStepLocked, defragStepSynced, defragStepRenamed}
	require.Equal(t, append(run, run...), steps, "the runs did not overlap")
}

func TestDefragClosedAndFailed(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		s, _ := openStore(t, Config{})
		require.NoError(t, s.Close())
		_, err := s.Defrag(t.Context())
		require.ErrorIs(t, err, ErrClosed)
	})
	t.Run("close during defrag", func(t *testing.T) {
		s, path := openStore(t, Config{noSync: true})
		fragmented(t, s, 100)
		want := viewStore(t, s)
		closed := make(chan error, 1)
		s.defragHook = func(step defragStep) error {
			if step == defragStepCopied {
				go func() { closed <- s.Close() }()
				<-s.stopc // Close has begun; it waits for this run
			}
			return nil
		}
		_, err := s.Defrag(t.Context())
		require.ErrorIs(t, err, ErrClosed)
		require.NoError(t, <-closed)
		requireNoDefragTemp(t, path)
		require.Equal(t, want, viewStore(t, reopen(t, path, Config{})))
	})
	t.Run("failed", func(t *testing.T) {
		s, _ := openStore(t, Config{CommitInterval: time.Hour})
		putKVs(t, s, 1, "a", "1")
		s.fail(errors.New("injected"))
		_, err := s.Defrag(t.Context())
		require.ErrorIs(t, err, ErrFailed)
	})
}

// TestDefragRestoredMeanwhile: a Restore that replaces the database while
// Defrag copies it makes Defrag start over on the restored database.
func TestDefragRestoredMeanwhile(t *testing.T) {
	other, _ := openStore(t, Config{})
	for i := uint64(1); i <= 30; i++ {
		applyScripted(other, i)
	}
	snap, _ := snapshotBytes(t, other)
	want := viewStore(t, other)

	s, path := openStore(t, Config{noSync: true})
	fragmented(t, s, 100)
	copied := 0
	s.defragHook = func(step defragStep) error {
		if step != defragStepCopied {
			return nil
		}
		copied++
		if copied == 1 {
			return s.Restore(strings.NewReader(string(snap)))
		}
		return nil
	}
	st, err := s.Defrag(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, copied, "started over once")
	require.EqualValues(t, len(want.Revs), st.Records, "the last attempt copied the restored database")
	require.Equal(t, want, viewStore(t, s))
	require.NoError(t, s.Close())
	require.Equal(t, want, viewStore(t, reopen(t, path, Config{})))
}

// TestDefragKeepsOpenSnapshots: a Snapshot taken before the switch keeps
// reading the replaced file.
func TestDefragKeepsOpenSnapshots(t *testing.T) {
	s, _ := openStore(t, Config{noSync: true})
	fragmented(t, s, 100)
	want, _ := snapshotBytes(t, s)
	sn, err := s.Snapshot()
	require.NoError(t, err)
	_, err = s.Defrag(t.Context())
	require.NoError(t, err)
	var buf strings.Builder
	_, err = sn.WriteTo(&buf)
	require.NoError(t, err)
	require.NoError(t, sn.Close())
	require.Equal(t, string(want), buf.String())
}

func TestOpenRemovesDefragCopy(t *testing.T) {
	s, path := openStore(t, Config{})
	putKVs(t, s, 1, "a", "1")
	require.NoError(t, s.Close())
	require.NoError(t, os.WriteFile(path+defragTempSuffix, []byte("half a copy"), 0o600))
	s2 := reopen(t, path, Config{})
	requireNoDefragTemp(t, path)
	require.Len(t, rangeOK(t, s2, "a", "", RangeOptions{}).KVs, 1)
}
