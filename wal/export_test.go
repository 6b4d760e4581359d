package wal

import "testing"

// SpareReady reports whether a preallocated spare segment is ready (tests).
func (w *WAL) SpareReady() bool {
	w.spareMu.Lock()
	defer w.spareMu.Unlock()
	return w.spare != nil
}

// StopSyncer stops the background sync as Close does first (tests).
func (w *WAL) StopSyncer() { w.stopSyncer() }

// RandomSeed is the seed for randomized tests (see internalSeed).
func RandomSeed(tb testing.TB) int64 {
	tb.Helper()
	return internalSeed(tb)
}
