//go:build linux

package main

import (
	"os"
	"syscall"
	"time"
)

// maxRSSKiB returns a finished process's peak resident set size in KiB
// (getrusage's ru_maxrss, which Linux reports in KiB), or 0.
func maxRSSKiB(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}

// processCPU returns this process's CPU time so far, user plus system, over
// all its threads; 0 if getrusage fails.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
