package faultfs

import (
	"errors"
	"io"
	"io/fs"
	"slices"

	"github.com/keeldb/keel/wal"
)

var _ wal.File = (*File)(nil)

// File is an open file of an FS. It is safe for concurrent use.
type File struct {
	fs       *FS
	n        *node
	name     string
	epoch    int
	writable bool
	readable bool
	closed   bool // guarded by fs.mu
}

var errClosed = errors.New("faultfs: file already closed")

// path is the file's current path: the name it was opened with, or the
// one it was renamed to since. Fault rules and the sync hook match it.
func (h *File) path() string {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.n.name == "" {
		return h.name
	}
	return h.n.name
}

// usable reports why the handle cannot be used. Caller holds fs.mu.
func (h *File) usableLocked(op string) error {
	switch {
	case h.closed:
		return &fs.PathError{Op: op, Path: h.name, Err: errClosed}
	case h.epoch != h.fs.epoch:
		return &fs.PathError{Op: op, Path: h.name, Err: ErrStaleHandle}
	}
	return nil
}

// ReadAt implements io.ReaderAt. An injected OpRead fault reads nothing.
func (h *File) ReadAt(p []byte, off int64) (int, error) {
	if err := h.fs.check(OpRead, h.path()); err != nil {
		return 0, &fs.PathError{Op: "read", Path: h.name, Err: err}
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.usableLocked("read"); err != nil {
		return 0, err
	}
	if !h.readable {
		return 0, &fs.PathError{Op: "read", Path: h.name, Err: fs.ErrPermission}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: h.name, Err: fs.ErrInvalid}
	}
	if off >= int64(len(h.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements io.WriterAt. An injected OpWrite fault writes nothing.
func (h *File) WriteAt(p []byte, off int64) (int, error) {
	if err := h.fs.check(OpWrite, h.path()); err != nil {
		return 0, &fs.PathError{Op: "write", Path: h.name, Err: err}
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.usableLocked("write"); err != nil {
		return 0, err
	}
	if !h.writable {
		return 0, &fs.PathError{Op: "write", Path: h.name, Err: fs.ErrPermission}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "write", Path: h.name, Err: fs.ErrInvalid}
	}
	if end := off + int64(len(p)); end > int64(len(h.n.data)) {
		old := len(h.n.data)
		h.n.data = slices.Grow(h.n.data, int(end)-old)[:end]
		clear(h.n.data[old:])
	}
	copy(h.n.data[off:], p)
	return len(p), nil
}

// Sync implements wal.File: the current content becomes durable. An
// injected OpSync fault leaves the durable content unchanged.
func (h *File) Sync() error {
	name := h.path()
	if err := h.fs.check(OpSync, name); err != nil {
		return &fs.PathError{Op: "sync", Path: h.name, Err: err}
	}
	h.fs.sleep(name)
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.usableLocked("sync"); err != nil {
		return err
	}
	h.n.durable = slices.Clone(h.n.data)
	return nil
}

// Truncate changes the file size (not used by the WAL; for tests).
func (h *File) Truncate(size int64) error {
	if err := h.fs.check(OpWrite, h.path()); err != nil {
		return &fs.PathError{Op: "truncate", Path: h.name, Err: err}
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.usableLocked("truncate"); err != nil {
		return err
	}
	if !h.writable || size < 0 {
		return &fs.PathError{Op: "truncate", Path: h.name, Err: fs.ErrInvalid}
	}
	if size <= int64(len(h.n.data)) {
		h.n.data = h.n.data[:size:size]
	} else {
		h.n.data = append(h.n.data, make([]byte, size-int64(len(h.n.data)))...)
	}
	return nil
}

// Size implements wal.File.
func (h *File) Size() (int64, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.usableLocked("stat"); err != nil {
		return 0, err
	}
	return int64(len(h.n.data)), nil
}

// Close implements io.Closer. Closing does not make anything durable.
func (h *File) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return &fs.PathError{Op: "close", Path: h.name, Err: errClosed}
	}
	h.closed = true
	return nil
}
