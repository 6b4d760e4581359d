//go:build !linux

package main

import "os"

// maxRSSKiB is not measured off Linux (ru_maxrss units differ): it
// returns 0, and the RSS row shows no value.
func maxRSSKiB(*os.ProcessState) int64 { return 0 }
