package faultfs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/keeldb/keel/wal"
)

var _ wal.FS = (*FS)(nil)

// ErrStaleHandle is returned by operations on a File opened before Crash.
var ErrStaleHandle = errors.New("faultfs: file handle from before a crash")

// node is the content of one file, shared by all names and handles.
type node struct {
	data    []byte
	durable []byte
	name    string // current path (follows renames); fault rules and the sync hook match it
}

// dir holds the entries of one directory.
type dir struct {
	entries map[string]*node
	durable map[string]*node
}

// FS is an in-memory file system with fault injection. Create it with New.
// It is safe for concurrent use.
type FS struct {
	mu        sync.Mutex
	dirs      map[string]*dir
	epoch     int // incremented by every crash
	crashes   int // crashes so far
	lastCrash CrashReport
	faults    []*rule
	syncDelay time.Duration
	syncHook  func(name string)
	counts    map[Op]int
}

// New returns an empty file system whose root directory "/" exists.
// Relative paths are cleaned but otherwise treated like absolute ones.
func New() *FS {
	f := &FS{dirs: map[string]*dir{}, counts: map[Op]int{}}
	f.mkdirLocked("/")
	return f
}

func clean(name string) string { return filepath.Clean("/" + filepath.ToSlash(name)) }

func split(name string) (string, string) {
	name = clean(name)
	return path.Dir(name), path.Base(name)
}

func (f *FS) mkdirLocked(p string) {
	if _, ok := f.dirs[p]; !ok {
		f.dirs[p] = &dir{entries: map[string]*node{}, durable: map[string]*node{}}
	}
}

// OpenFile implements wal.FS. Supported flags: O_RDONLY, O_WRONLY, O_RDWR,
// O_CREATE, O_EXCL, O_TRUNC, O_APPEND (ignored; the WAL writes at offsets).
func (f *FS) OpenFile(name string, flag int, _ os.FileMode) (wal.File, error) {
	if err := f.check(OpOpen, name); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dn, base := split(name)
	d, ok := f.dirs[dn]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	n, ok := d.entries[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		n = &node{name: clean(name)}
		d.entries[base] = n
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable {
		n.data = nil
	}
	return &File{fs: f, n: n, name: clean(name), epoch: f.epoch, writable: writable, readable: flag&os.O_WRONLY == 0}, nil
}

// Remove implements wal.FS.
func (f *FS) Remove(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dn, base := split(name)
	d, ok := f.dirs[dn]
	if !ok || d.entries[base] == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(d.entries, base)
	return nil
}

// Rename implements wal.FS. Both names must be in the same directory or in
// directories that exist; each directory's change becomes durable with its
// own SyncDir.
func (f *FS) Rename(oldpath, newpath string) error {
	if err := f.check(OpRename, newpath); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	od, ob := split(oldpath)
	nd, nb := split(newpath)
	src, ok := f.dirs[od]
	dst, ok2 := f.dirs[nd]
	if !ok || !ok2 || src.entries[ob] == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	n := src.entries[ob]
	delete(src.entries, ob)
	dst.entries[nb] = n
	n.name = clean(newpath)
	return nil
}

// ReadDir implements wal.FS: the sorted names of the entries of a
// directory (files and sub-directories).
func (f *FS) ReadDir(name string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := clean(name)
	d, ok := f.dirs[p]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var names []string
	for n := range d.entries {
		names = append(names, n)
	}
	for dp := range f.dirs {
		if dp != p && path.Dir(dp) == p {
			names = append(names, path.Base(dp))
		}
	}
	sort.Strings(names)
	return names, nil
}

// MkdirAll implements wal.FS. Directories are durable as soon as they are
// created (only their entries are subject to SyncDir).
func (f *FS) MkdirAll(p string, _ os.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for q := clean(p); ; q = path.Dir(q) {
		f.mkdirLocked(q)
		if q == "/" {
			return nil
		}
	}
}

// SyncDir implements wal.FS: the directory's current entries become
// durable.
func (f *FS) SyncDir(name string) error {
	if err := f.check(OpSyncDir, name); err != nil {
		return &fs.PathError{Op: "syncdir", Path: name, Err: err}
	}
	f.sleep(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.dirs[clean(name)]
	if !ok {
		return &fs.PathError{Op: "syncdir", Path: name, Err: fs.ErrNotExist}
	}
	d.durable = maps(d.entries)
	return nil
}

func maps(m map[string]*node) map[string]*node {
	c := make(map[string]*node, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Clone returns an independent deep copy of the file system's current and
// durable state, without fault rules or sync delay. Handles of f do not
// refer to the clone.
func (f *FS) Clone() *FS {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := New()
	copies := map[*node]*node{}
	cp := func(n *node) *node {
		if x, ok := copies[n]; ok {
			return x
		}
		x := &node{data: slices.Clone(n.data), durable: slices.Clone(n.durable), name: n.name}
		copies[n] = x
		return x
	}
	for p, d := range f.dirs {
		nd := &dir{entries: map[string]*node{}, durable: map[string]*node{}}
		for k, n := range d.entries {
			nd.entries[k] = cp(n)
		}
		for k, n := range d.durable {
			nd.durable[k] = cp(n)
		}
		c.dirs[p] = nd
	}
	return c
}

// ReadFile returns a copy of a file's current bytes.
func (f *FS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dn, base := split(name)
	d, ok := f.dirs[dn]
	if !ok || d.entries[base] == nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(d.entries[base].data), nil
}

// WriteFile replaces a file's content (creating it if needed) and makes
// both the content and the directory entry durable at once. It bypasses
// fault rules; tests use it to plant torn or corrupted bytes.
func (f *FS) WriteFile(name string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dn, base := split(name)
	d, ok := f.dirs[dn]
	if !ok {
		return &fs.PathError{Op: "write", Path: name, Err: fs.ErrNotExist}
	}
	n := d.entries[base]
	if n == nil {
		n = &node{name: clean(name)}
		d.entries[base] = n
	}
	n.data = slices.Clone(data)
	n.durable = slices.Clone(data)
	d.durable[base] = n
	return nil
}

// SetSyncDelay makes every later Sync and SyncDir sleep for d first
// (0 disables it), to model a slow disk.
func (f *FS) SetSyncDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncDelay = d
}

// SetSyncHook makes every later Sync and SyncDir call fn with the file or
// directory name first, outside any lock (nil removes it). A hook can block
// to hold a sync "in flight", or count calls. It runs after fault rules are
// checked and before the sync delay.
func (f *FS) SetSyncHook(fn func(name string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncHook = fn
}

// sleep runs the sync hook and the sync delay.
func (f *FS) sleep(name string) {
	f.mu.Lock()
	d, hook := f.syncDelay, f.syncHook
	f.mu.Unlock()
	if hook != nil {
		hook(clean(name))
	}
	if d > 0 {
		time.Sleep(d)
	}
}
