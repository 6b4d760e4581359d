// Package faultfs is an in-memory, fault-injecting implementation of the
// wal.FS file-system seam, for crash and I/O-error tests of the WAL (and of
// anything built on it, such as chaos tests that run one FS per cluster
// member).
//
// # Durability model
//
// Every file has two states: its current bytes (what reads see) and its
// durable bytes (the current bytes as of its last successful Sync). Every
// directory likewise has its current entries and its durable entries (as
// of its last successful SyncDir). A crash simulates a power loss:
//
//   - Every directory reverts to its durable entries: creates, removes and
//     renames (including a rename over an existing file) not covered by a
//     SyncDir of their directory are lost, under every model. A real file
//     system may keep some of them; code must not rely on either.
//     Directories themselves are durable as soon as MkdirAll creates them
//     (a simplification: only their entries are subject to SyncDir).
//   - Every file keeps its synced bytes, and of its unsynced data what the
//     crash Model chooses, in 4 KiB pages (PageSize). A page is unsynced
//     when its current bytes differ from its durable ones. LoseUnsynced
//     keeps none of them (the model of Crash); TornPrefix keeps a random
//     prefix of them in file order; TornPages keeps a random subset, each
//     page independently, so a later page can survive an earlier one, as
//     a disk's write cache or the kernel's write-back may leave it. Pages
//     not kept read their durable bytes. A file whose size changed keeps
//     its durable size, grown just enough to hold the new pages that
//     persisted, unless the new size persists: under TornPrefix when all
//     its unsynced pages did, under TornPages with probability 1/2 (a
//     grown file then reads zeros in the new pages that did not persist,
//     as ext4 can leave it).
//   - File handles opened before the crash fail with ErrStaleHandle
//     afterwards, as if their process had died.
//
// Crash uses LoseUnsynced; CrashWith takes the model and a seed, so that a
// crash replays, and reports how many pages it persisted and whether it
// reordered any. A Fault with a Crash model crashes the file system at a
// chosen operation instead of failing it; on an OpSync rule that is a
// power cut in the middle of an fsync, which persists a random part of
// what that fsync was writing. Crashes counts the crashes so far and
// returns the last one's report. Tests that need other torn bytes can edit
// them directly with ReadFile and WriteFile.
//
// # Faults
//
// Inject adds a Fault rule: fail matching operations (Write, Sync, SyncDir,
// Rename, Remove, Open, Read) after letting a number of them succeed, once, a few
// times or forever, with any error (for example syscall.ENOSPC or
// syscall.EIO), or crash the file system when one starts. A failed write
// writes nothing; a failed read reads nothing. SetSyncDelay makes every
// Sync and SyncDir sleep first, to model a slow disk; SetSyncHook runs a
// function first (for example one that blocks until the test releases it).
//
// # Concurrency
//
// An FS and its files are safe for concurrent use.
package faultfs
