//go:build !linux

package wal

// Sync flushes the file with fsync (File.Sync).
func (f osFile) Sync() error { return f.File.Sync() }
