package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
)

// heapStats are the Go heap figures of this process after a full GC.
type heapStats struct {
	// Alloc is runtime.MemStats.HeapAlloc: bytes of live heap objects.
	Alloc uint64 `json:"heap_alloc_bytes"`
	// Inuse is runtime.MemStats.HeapInuse: bytes in in-use heap spans.
	Inuse uint64 `json:"heap_inuse_bytes"`
}

// readHeap runs two garbage collections (the second frees what the
// first's finalizers released) and reads the heap.
func readHeap() heapStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return heapStats{Alloc: m.HeapAlloc, Inuse: m.HeapInuse}
}

// readRSS returns this process's resident set size in bytes (VmRSS in
// /proc/self/status), or 0 where that file does not exist.
func readRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseStatusKB(b, "VmRSS:") * 1024
}

// readPeakRSS returns this process's peak resident set size in bytes
// (VmHWM in /proc/self/status), or 0 where that file does not exist.
func readPeakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseStatusKB(b, "VmHWM:") * 1024
}

// parseStatusKB returns the value in KiB of the /proc/<pid>/status line
// that starts with field ("VmRSS:"), or 0 if there is none.
func parseStatusKB(status []byte, field string) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(field)) {
			continue
		}
		f := bytes.Fields(line[len(field):])
		if len(f) == 0 {
			return 0
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return v
	}
	return 0
}

// diskUsage returns the bytes allocated on disk (st_blocks x 512, as du
// counts them) to path and, for a directory, everything under it, except
// the path exclude. A missing path counts 0.
func diskUsage(path, exclude string) (int64, error) {
	var total int64
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if p == exclude {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		total += allocated(info)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("disk usage of %s: %w", path, err)
	}
	return total, nil
}

// allocated returns the bytes allocated to a file: its blocks where the
// platform reports them, else its length.
func allocated(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return info.Size()
}

// fileSize returns the length of the file at path, or 0 if it is missing.
func fileSize(path string) (int64, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", path, err)
	}
	return info.Size(), nil
}
