//go:build !linux

package main

import (
	"os"
	"time"
)

// maxRSSKiB is not measured off Linux (ru_maxrss units differ): it
// returns 0, and the RSS row shows no value.
func maxRSSKiB(*os.ProcessState) int64 { return 0 }

// processCPU is not measured off Linux: it returns 0, and the CPU rows
// show no value.
func processCPU() time.Duration { return 0 }
