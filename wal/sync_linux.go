//go:build linux

package wal

import (
	"errors"
	"syscall"
)

// Sync flushes the file's data with fdatasync(2). Segments are
// preallocated, so appends do not change the file size and fdatasync does
// not have to write the inode (mtime alone is not needed to read the data
// back), which saves a journal commit per batch. fdatasync still flushes a
// size change, so it is also correct for files that grew.
func (f osFile) Sync() error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
