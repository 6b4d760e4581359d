// Package allocs measures heap allocation for Keel's tests of untrusted
// input: that a decoder fed forged lengths and counts allocates in
// proportion to its input, not to what the input claims.
//
// Measurements use runtime.MemStats.TotalAlloc, which counts every
// goroutine's allocations; Least repeats a measurement and keeps the
// smallest, so that allocations by other goroutines (a test's background
// machinery) rarely inflate it. It is meant for generous bounds (a
// multiple of the input's size, or megabytes against a claimed gigabyte),
// never for exact counts.
package allocs
