// Package logstore opens the raft log stores that the benchmarks compare,
// behind one interface: a [Store] is a raft.LogStore that can be closed.
//
// # Stores
//
// Each store is described by a [Factory] with a stable name used on the
// command line and in reports:
//
//   - "keel-wal": Keel's own github.com/keeldb/keel/wal with a zero Config.
//   - "raft-boltdb": hashicorp/raft-boltdb/v2 v2.3.0 with its default options
//     (fsync on every commit, freelist synced, array freelist).
//   - "raft-boltdb-nfs": the same store with bbolt's NoFreelistSync and the
//     hashmap freelist, the usual mitigation for its truncation slowdown.
//   - "raft-wal": hashicorp/raft-wal v0.4.1 with its defaults (64 MiB
//     preallocated segments, one fsync per StoreLogs call).
//   - "inmem": raft.InmemStore, no I/O at all; a harness-overhead ceiling and a
//     test double, not part of the default set.
//
// All on-disk stores run with fsync on, which is each one's default.
//
// # Caveats
//
// The bench module's go.mod selects go.etcd.io/bbolt v1.5.0 (the version the
// Keel library uses), so raft-boltdb is measured on bbolt v1.5.0 rather than
// the v1.3.x its own go.mod names. Factories hold no state and are safe for
// concurrent use; the stores they open follow their own packages' rules.
package logstore
