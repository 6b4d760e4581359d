package wal

import (
	"io"
	"os"
	"path/filepath"
	"sort"
)

// FS is the file-system seam the WAL does all its I/O through. Paths are
// joined with filepath.Join. Implementations must be safe for concurrent use.
// OSFS is the real one; internal/faultfs provides a fault-injecting one.
type FS interface {
	// OpenFile opens a file like os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove removes a file.
	Remove(name string) error
	// Rename atomically replaces newpath with oldpath.
	Rename(oldpath, newpath string) error
	// ReadDir returns the names of the entries of a directory, sorted.
	ReadDir(name string) ([]string, error)
	// MkdirAll creates a directory and its parents.
	MkdirAll(path string, perm os.FileMode) error
	// SyncDir makes the directory's entries (creates, removes, renames)
	// durable, like fsync on the directory.
	SyncDir(name string) error
}

// File is an open file. ReadAt must be safe to call concurrently with other
// ReadAt and WriteAt calls on non-overlapping ranges.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes the written data durable (fsync/fdatasync).
	Sync() error
	// Size returns the current file size.
	Size() (int64, error)
}

// OSFS is the FS of the operating system. The zero value is ready to use and
// it is safe for concurrent use.
type OSFS struct{}

var _ FS = OSFS{}

// OpenFile implements FS.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Rename implements FS.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// ReadDir implements FS.
func (OSFS) ReadDir(name string) ([]string, error) {
	ents, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// MkdirAll implements FS.
func (OSFS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

// SyncDir implements FS.
func (OSFS) SyncDir(name string) error {
	d, err := os.Open(filepath.Clean(name))
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return serr
	}
	return cerr
}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
