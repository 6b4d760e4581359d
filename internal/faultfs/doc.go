// Package faultfs is an in-memory, fault-injecting implementation of the
// wal.FS file-system seam, for crash and I/O-error tests of the WAL (and of
// anything built on it, such as chaos tests that run one FS per cluster
// member).
//
// # Durability model
//
// Every file has two states: its current bytes (what reads see) and its
// durable bytes (the current bytes as of its last successful Sync). Every
// directory likewise has its current entries and its durable entries (as of
// its last successful SyncDir). Crash simulates a power loss: every file
// reverts to its durable bytes and every directory to its durable entries,
// so data not covered by Sync and creates, removes and renames not covered
// by SyncDir are lost. File handles opened before Crash fail with
// ErrStaleHandle afterwards, as if their process had died.
//
// This is a prefix-consistent model: unsynced bytes are lost as a whole,
// never reordered. Tests that need arbitrary torn writes can edit bytes
// directly with ReadFile and WriteFile.
//
// # Faults
//
// Inject adds a Fault rule: fail matching operations (Write, Sync, SyncDir,
// Rename, Remove, Open) after letting a number of them succeed, once, a few
// times or forever, with any error (for example syscall.ENOSPC or
// syscall.EIO). A failed write writes nothing. SetSyncDelay makes every
// Sync and SyncDir sleep first, to model a slow disk; SetSyncHook runs a
// function first (for example one that blocks until the test releases it).
//
// # Concurrency
//
// An FS and its files are safe for concurrent use.
package faultfs
