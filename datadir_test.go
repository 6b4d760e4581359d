package keel

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
)

func TestCreateDir(t *testing.T) {
	base := t.TempDir()
	cases := []struct {
		name string
		dir  string
	}{
		{"exists", base},
		{"one level", filepath.Join(base, "a")},
		{"three levels", filepath.Join(base, "b", "c", "d")},
		{"again", filepath.Join(base, "b", "c", "d")},
		{"unclean", base + "/e/../f/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, createDir(tc.dir))
			fi, err := os.Stat(filepath.Clean(tc.dir))
			require.NoError(t, err)
			require.True(t, fi.IsDir())
		})
	}
	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	require.Error(t, createDir(filepath.Join(file, "x")), "a parent that is a file")
}

// TestCreateDirFsyncsParent shows that createDir fsyncs the parent of the
// directory it creates: under a parent it may write but not read (so not
// open to fsync), the directory is made and createDir then fails.
func TestCreateDirFsyncsParent(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any directory")
	}
	parent := t.TempDir()
	require.NoError(t, os.Chmod(parent, 0o300))
	t.Cleanup(func() { _ = os.Chmod(parent, 0o700) })
	require.ErrorContains(t, createDir(filepath.Join(parent, "d")), "fsync parent")
	require.NoError(t, createDir(filepath.Join(parent, "d")), "an existing directory's parent is not fsynced")
}

func TestSyncDir(t *testing.T) {
	require.NoError(t, syncDir(t.TempDir()))
	require.Error(t, syncDir(filepath.Join(t.TempDir(), "missing")))
}

// TestOpenSyncsDir checks that every Open fsyncs Dir on the raft log's
// file system once wal/ exists (the OS fsyncs of Dir, its parents and
// kv.db's directory cannot be observed here; they run on the same path).
func TestOpenSyncsDir(t *testing.T) {
	fsys := faultfs.New()
	var mu sync.Mutex
	var synced []string
	fsys.SetSyncHook(func(name string) {
		mu.Lock()
		defer mu.Unlock()
		synced = append(synced, name)
	})
	dir := filepath.Join(t.TempDir(), "new", "member")
	cfg := Config{Dir: dir, WALFS: fsys, WALSegmentSize: 1 << 20, Logger: testLogger()}
	for range 2 { // creating, then reopening
		mu.Lock()
		synced = nil
		mu.Unlock()
		s, err := Open(cfg)
		require.NoError(t, err)
		require.NoError(t, s.Close())
		mu.Lock()
		require.Contains(t, synced, filepath.Clean(dir))
		mu.Unlock()
	}
	names, err := fsys.ReadDir(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"wal"}, names)
}

// TestSnapshotStoreSyncsSnapshotDir takes snapshots through the wrapper:
// Create fsyncs the temporary directory raft writes in (it fails if raft
// no longer writes there), and the snapshots list and read back.
func TestSnapshotStoreSyncsSnapshotDir(t *testing.T) {
	ss, err := newSnapshotStore(t.TempDir(), 2, hclog.NewNullLogger())
	require.NoError(t, err)
	for i := range uint64(3) {
		sink, err := ss.Create(raft.SnapshotVersionMax, 10+i, 1, raft.Configuration{}, 1, nil)
		require.NoError(t, err)
		_, err = sink.Write([]byte{byte(i)})
		require.NoError(t, err)
		require.NoError(t, sink.Close())
	}
	list, err := ss.List()
	require.NoError(t, err)
	require.Len(t, list, 2, "raft keeps the newest two")
	_, rc, err := ss.Open(list[0].ID)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.True(t, bytes.Equal([]byte{2}, b))
	ents, err := os.ReadDir(ss.dir)
	require.NoError(t, err)
	require.False(t, slices.ContainsFunc(ents, func(e os.DirEntry) bool { return filepath.Ext(e.Name()) == snapshotTmpSuffix }))
}
