package faultfs_test

import (
	"io/fs"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func create(tb testing.TB, f *faultfs.FS, name string) wal.File {
	tb.Helper()
	h, err := f.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(tb, err)
	return h
}

func TestCrashDurability(t *testing.T) {
	cases := []struct {
		name      string
		syncFile  bool
		syncDir   bool
		wantExist bool
		wantData  string
	}{
		{"nothing synced", false, false, false, ""},
		{"file synced, dir not", true, false, false, ""},
		{"dir synced, file not", false, true, true, ""},
		{"both synced", true, true, true, "hello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := faultfs.New()
			require.NoError(t, f.MkdirAll("/d", 0o755))
			h := create(t, f, "/d/a")
			_, err := h.WriteAt([]byte("hello"), 0)
			require.NoError(t, err)
			if tc.syncFile {
				require.NoError(t, h.Sync())
			}
			if tc.syncDir {
				require.NoError(t, f.SyncDir("/d"))
			}
			_, err = h.WriteAt([]byte("HELLO!"), 0) // never synced
			require.NoError(t, err)
			f.Crash()
			_, err = h.WriteAt([]byte("x"), 0)
			require.ErrorIs(t, err, faultfs.ErrStaleHandle)
			data, err := f.ReadFile("/d/a")
			if !tc.wantExist {
				require.ErrorIs(t, err, fs.ErrNotExist)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantData, string(data))
		})
	}
}

func TestRenameAndRemoveNeedSyncDir(t *testing.T) {
	f := faultfs.New()
	h := create(t, f, "/old")
	_, err := h.WriteAt([]byte("v1"), 0)
	require.NoError(t, err)
	require.NoError(t, h.Sync())
	require.NoError(t, f.SyncDir("/"))
	require.NoError(t, f.Rename("/old", "/new"))
	names, err := f.ReadDir("/")
	require.NoError(t, err)
	require.Equal(t, []string{"new"}, names)
	f.Crash()
	names, err = f.ReadDir("/")
	require.NoError(t, err)
	require.Equal(t, []string{"old"}, names, "unsynced rename is lost")

	require.NoError(t, f.Remove("/old"))
	require.NoError(t, f.SyncDir("/"))
	f.Crash()
	names, err = f.ReadDir("/")
	require.NoError(t, err)
	require.Empty(t, names, "synced remove is durable")
}

func TestFaultRules(t *testing.T) {
	cases := []struct {
		name  string
		fault faultfs.Fault
		file  string
		want  []bool // per Sync call: fails?
	}{
		{"next fails once", faultfs.Fault{Op: faultfs.OpSync, Times: 1, Err: syscall.EIO}, "/a", []bool{true, false, false}},
		{"after two, forever", faultfs.Fault{Op: faultfs.OpSync, After: 2, Err: syscall.EIO}, "/a", []bool{false, false, true, true}},
		{"pattern matches", faultfs.Fault{Op: faultfs.OpSync, Pattern: "*.seg", Err: syscall.EIO}, "/x.seg", []bool{true, true}},
		{"pattern does not match", faultfs.Fault{Op: faultfs.OpSync, Pattern: "*.seg", Err: syscall.EIO}, "/x.meta", []bool{false, false}},
		{"other op", faultfs.Fault{Op: faultfs.OpWrite, Err: syscall.ENOSPC}, "/a", []bool{false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := faultfs.New()
			h := create(t, f, tc.file)
			f.Inject(tc.fault)
			for i, fails := range tc.want {
				err := h.Sync()
				if fails {
					require.ErrorIs(t, err, tc.fault.Err, "call %d", i)
				} else {
					require.NoError(t, err, "call %d", i)
				}
			}
		})
	}
}

func TestFailedWriteWritesNothing(t *testing.T) {
	f := faultfs.New()
	h := create(t, f, "/a")
	f.Inject(faultfs.Fault{Op: faultfs.OpWrite, Err: syscall.ENOSPC})
	n, err := h.WriteAt([]byte("data"), 0)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.Zero(t, n)
	size, err := h.Size()
	require.NoError(t, err)
	require.Zero(t, size)
	require.Equal(t, 1, f.Count(faultfs.OpWrite))
}

func TestFailedReadReadsNothing(t *testing.T) {
	f := faultfs.New()
	h := create(t, f, "/a")
	_, err := h.WriteAt([]byte("data"), 0)
	require.NoError(t, err)
	f.Inject(faultfs.Fault{Op: faultfs.OpRead, Pattern: "a", Times: 1, Err: syscall.EIO})
	buf := make([]byte, 4)
	n, err := h.ReadAt(buf, 0)
	require.ErrorIs(t, err, syscall.EIO)
	require.Zero(t, n)
	require.Equal(t, make([]byte, 4), buf, "a failed read filled the buffer")
	n, err = h.ReadAt(buf, 0)
	require.NoError(t, err, "Times 1 fails one read only")
	require.Equal(t, "data", string(buf[:n]))
	require.Equal(t, 2, f.Count(faultfs.OpRead))
}

func TestCloneIsIndependent(t *testing.T) {
	f := faultfs.New()
	require.NoError(t, f.WriteFile("/a", []byte("one")))
	c := f.Clone()
	require.NoError(t, c.WriteFile("/a", []byte("two")))
	data, err := f.ReadFile("/a")
	require.NoError(t, err)
	require.Equal(t, "one", string(data))
	c.Crash()
	data, err = c.ReadFile("/a")
	require.NoError(t, err)
	require.Equal(t, "two", string(data), "WriteFile is durable")
}

func TestOpenFlags(t *testing.T) {
	f := faultfs.New()
	_, err := f.OpenFile("/missing", os.O_RDONLY, 0)
	require.ErrorIs(t, err, fs.ErrNotExist)
	create(t, f, "/a")
	_, err = f.OpenFile("/a", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	require.ErrorIs(t, err, fs.ErrExist)
	r, err := f.OpenFile("/a", os.O_RDONLY, 0)
	require.NoError(t, err)
	_, err = r.WriteAt([]byte("x"), 0)
	require.ErrorIs(t, err, fs.ErrPermission)
	require.NoError(t, r.Close())
	require.Error(t, r.Close())
}

func TestSyncHook(t *testing.T) {
	f := faultfs.New()
	h := create(t, f, "/a")
	var mu sync.Mutex
	var seen []string
	f.SetSyncHook(func(name string) {
		mu.Lock()
		seen = append(seen, name)
		mu.Unlock()
	})
	require.NoError(t, h.Sync())
	require.NoError(t, f.SyncDir("/"))
	require.Equal(t, []string{"/a", "/"}, seen)
}

func TestConcurrentUse(t *testing.T) {
	f := faultfs.New()
	h := create(t, f, "/a")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				off := int64((g*200 + i) * 4)
				if _, err := h.WriteAt([]byte{1, 2, 3, 4}, off); err != nil {
					t.Error(err)
					return
				}
				buf := make([]byte, 4)
				if _, err := h.ReadAt(buf, off); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					if err := h.Sync(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	size, err := h.Size()
	require.NoError(t, err)
	require.Equal(t, int64(4*200*4), size)
}
