//go:build !unix

package main

import "io/fs"

// allocated returns the file's length; allocation is not portable here.
func allocated(info fs.FileInfo) int64 { return info.Size() }
