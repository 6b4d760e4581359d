//go:build linux

package main

import (
	"os"
	"syscall"
)

// maxRSSKiB returns a finished process's peak resident set size in KiB
// (getrusage's ru_maxrss, which Linux reports in KiB), or 0.
func maxRSSKiB(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}
