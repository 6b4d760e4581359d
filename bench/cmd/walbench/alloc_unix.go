//go:build unix

package main

import (
	"io/fs"
	"syscall"
)

// allocated returns the bytes a file occupies on disk (st_blocks * 512),
// falling back to its length.
func allocated(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}
