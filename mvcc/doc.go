// Package mvcc is Keel's multi-version key-value engine: etcd's data model
// (revisions, versions, generations, tombstones) over a bbolt file, with an
// in-memory B-tree key index. It has no raft and no network dependencies;
// Keel's raft FSM drives it in log order on every member.
//
// # Model
//
// The store has a current revision, 1 when empty. Every write transaction
// ([Store.Write] … [TxnWrite.End]) with at least one change bumps it by
// exactly one; a txn with no change (reads only, or a DeleteRange that
// matched nothing) does not. The changes of one txn share that main revision
// and get sub-revisions 0, 1, 2, … in order. A key's Version counts the puts
// of its current generation (the first put gives 1, CreateRevision is that
// put's revision); a delete writes a tombstone and ends the generation, and
// a re-create starts again at version 1. Reads at an older revision see the
// state as of that revision.
//
// # Storage
//
// bbolt holds three buckets. "key" is keyed by revision: 8 bytes big-endian
// main, '_', 8 bytes big-endian sub, plus a trailing 't' for tombstones
// (etcd's encoding); its values are KeyValues in a compact binary encoding
// (a format byte, length-prefixed key and value, varint revisions, version
// and lease). "lease" holds the lease records keyed by 8-byte big-endian
// ID. "meta" holds the schema marker ("keel-mvcc-v2"; a v1 file, from
// before leases, is upgraded on open), the consistent index and the
// compaction revisions (scheduled, and how far physical deletion got). The key index (key → generations of revisions) lives
// in memory only and is rebuilt by scanning the key bucket on [Open] and
// [Store.Restore]; the current revision is then the maximum of the newest
// stored revision and the compaction revision.
//
// # Visibility before durability
//
// [TxnWrite.End] does not fsync. Changes become visible to readers at End
// and are kept in an in-memory overlay (revision → KeyValue) until a
// background committer writes them to bbolt, every Config.CommitInterval or
// synchronously in End once Config.CommitLimit changes are pending. Each
// bbolt commit writes only whole ended txns together with the raft index of
// the last of them (the consistent index, in the same bbolt transaction), so
// bbolt is always exactly the state as of its stored consistent index. After
// a crash bbolt may be behind: the owner replays raft entries above
// [Store.ConsistentIndex]. [Store.ForceCommit], [Store.Snapshot] and
// [Store.Close] commit everything pending. The database file's directory
// entry is made durable too: [Open] fsyncs the directory (after creating
// the file), and [Store.Restore] fsyncs it after renaming the restored
// file over the database.
//
// # Leases
//
// The store keeps the replicated lease state; expiry timers, keepalives
// and leadership belong to the owner, which turns an expiry into a
// [TxnWrite.RevokeLease] through raft. A [LeaseRecord] has no clock: an
// ID, the granted TTL and the last checkpointed remaining TTL.
//
//   - [TxnWrite.GrantLease] and [TxnWrite.CheckpointLease] are not
//     changes: a txn with only those does not bump the revision, but its
//     lease changes are persisted with its consistent index.
//   - A key is attached to the lease its current version was put with
//     ([TxnWrite.Put] moves it; deletes detach it). Attachments are a
//     function of the live keys alone, kept in memory per lease and
//     rebuilt from the key bucket on [Open] and [Store.Restore];
//     compaction never changes them. Put does not check that the lease
//     exists: the owner validates it first.
//   - [TxnWrite.RevokeLease] deletes the attached live keys as changes of
//     its txn, in sorted key order: one revision, one watch response,
//     delete events with PrevKv. Then it removes the record.
//   - Lease changes become visible to [Store.Lease], [Store.Leases] and
//     [Store.LeaseKeys] at End, like key changes, and ride the same
//     pending list into the same bbolt commit as the data and the
//     consistent index: bbolt never holds a lease change without the
//     index that covers it, and a snapshot (the bbolt file) carries them.
//   - [Store.Hash] covers every lease record field (ID, TTL and
//     RemainingTTL, all replicated) in ID order.
//
// # Concurrency protocol
//
// Lock order: writeMu → commitMu → mu → the watch registry's lock.
//
//   - writeMu is held by the one open write txn from Write to End (and by
//     Close and Restore), so there is a single writer.
//   - commitMu serializes bbolt commits (and is held by Defrag's final
//     switch).
//   - mu (an RWMutex) guards the index, the revisions, the overlay, the
//     lease table and the pending lists. It is held only around in-memory work and bbolt read
//     transactions, never across a bbolt commit, so readers never wait for
//     an fsync.
//
// The write txn inserts its revisions into the index and overlay under mu
// as it goes, at revision current+1, which no reader asks for (readers read
// at or below the current revision); End bumps the current revision and
// appends the txn's changes to the pending list in one critical section, so
// a reader sees a whole txn or none of it. A reader takes mu (read), finds
// revisions in the index, looks each value up in the overlay first and
// otherwise in a bbolt read transaction opened while still holding mu. A
// commit snapshots the pending list under mu, commits it without mu, and
// only then, under mu (write), removes the committed entries from the
// overlay; so a revision missing from the overlay is already visible to any
// bbolt read transaction opened afterwards.
//
// # Failure
//
// A failed bbolt commit fail-stops the store: [Store.Err] reports an error
// wrapping ErrFailed, Range returns it, nothing is committed any more, and
// ForceCommit, Snapshot and Close return it. Write has no error return: a
// txn on a failed store still applies in memory, but is never made durable.
// A txn on a closed store is inert.
//
// # Compaction
//
// [TxnWrite.Compact] compacts history up to a revision inside a write txn
// (so it is ordered with the raft log): reads below it fail with
// ErrCompacted, reads at it work, and the key index keeps per key only what
// those reads need (etcd's keyIndex.compact rules). The compaction
// revision is stored in the meta bucket by the same bbolt commit as the
// txn's consistent index. Physical deletion runs in the background in
// batches of Config.CompactBatchLimit records per bbolt transaction with a
// Config.CompactBatchInterval pause between them, so writes and commits are
// not stalled; meta also records how far it got, and Open resumes an
// interrupted deletion. Records at exactly the compaction revision are kept
// until a later compaction, so a watch from that revision misses nothing.
// After a restart the revision is max(newest stored revision, compaction
// revision). [Store.Hash] and [Store.HashKV] cover only what reads can
// see, so they do not depend on physical progress. Automatic compaction is
// left to the owner.
//
// # Snapshots and backups
//
// [Store.Snapshot] is a consistent read view of the whole database.
// [Snapshot.WriteTo] streams the bare bbolt file (what raft snapshots
// carry, restored with [Store.Restore]); [Snapshot.WriteBackup] frames it
// as a backup, a self-describing, checksummed stream (its format is at
// [BackupHeader]), which [ReadBackup] verifies and [RestoreBackup] turns
// into the database of a new cluster's member. Both restore paths
// validate the database before it replaces anything: its bbolt meta pages
// against the file's size (bbolt would otherwise read past the end of a
// truncated file and crash), then every record as Open loads them.
//
// # Owner state and size
//
// Beside the key space the store keeps small values its owner encodes:
// the cluster state ([TxnWrite.SetClusterState]) and the alarms
// ([TxnWrite.SetAlarms]). They are set in a write txn, visible at End,
// committed with its consistent index, carried in snapshots and replaced
// by Restore; they make no revision and are not hashed.
//
// [Store.Size] reports the database's size (bbolt's high-water mark) and
// the part in use (excluding the pages on bbolt's freelist) as of the
// latest commit, without waiting for one. Compaction lowers the part in
// use as physical deletion frees pages; the size only shrinks when the
// file is rewritten.
//
// # Defragmentation
//
// Compaction frees bbolt pages but never shrinks the file. [Store.Defrag]
// copies the database into a new file next to it (the path plus
// ".defrag") while the store serves, then switches to the copy:
//
//   - Reads and write txns are never blocked by it. bbolt commits are
//     held only for the final switch, which copies the records committed
//     since the last catch-up pass, the meta and lease buckets (whole),
//     fsyncs, renames and reopens ([DefragStats].Pause measures it); a
//     write txn waits then only if it leaves CommitLimit changes pending.
//   - Physical compaction is paused while it runs (the key bucket then
//     only grows at its end, which is what lets the copy catch up without
//     a lock) and resumes afterwards.
//   - Crash safe: the database file is untouched until the complete,
//     fsynced copy is renamed over it, so after a crash the path holds one
//     complete database or the other, with the same data; Open removes a
//     copy left behind. An error or a ctx that ends before the switch
//     leaves the database as it was.
//   - The data, revisions, hash and consistent index are unchanged: only
//     the layout of the file is.
//
// Caveats: the copy needs disk space for the live data until the switch;
// the meta and lease buckets are copied with commits held, so a store
// with very many leases has a longer pause; a store written faster than
// it can be copied switches after a bounded number of catch-up passes,
// with a longer pause.
//
// # Watch guarantees
//
// [Store.Watch] delivers a watcher's events through its [WatchSink]:
//
//   - ordered: by revision, and in change order within a revision;
//   - unique: a revision is delivered at most once;
//   - atomic: all of a revision's events in the range are in one response;
//   - reliable: no gap from the start revision on, unless the watcher is
//     canceled because a revision it still needs was compacted (its last
//     response then carries CompactRevision);
//   - resumable: a new watch from the last delivered revision + 1
//     continues exactly.
//
// A synced watcher gets each revision from End (live, one response per
// revision) right after it becomes visible. A watcher that is behind
// (a start revision in the past, or a sink that refused a Send) is unsynced
// and is caught up by one background goroutine that reads history from the
// pending overlay and bbolt in chunks of at most Config.WatchBatchMaxRevs
// revisions (one response per chunk) and moves it back to synced, under
// the same lock End notifies under, once it has everything up to the last
// notified revision. The guarantees hold on every member, since each serves
// watches from its own applied state, and across [Store.Restore]: every
// watcher continues from its next revision against the restored history.
// Watchers are never blocked on: Send must not block. Send and Close are
// called with the registry lock held, must not call back into the Store,
// and are never concurrent for one sink. Events are shared between
// watchers and must not be modified. For live events PrevKv comes from the
// txn; when catching up it is the key's version at ModRevision-1 (nil if
// compacted). The two agree when a txn changes each key at most once
// (Keel rejects duplicate keys in a txn, as etcd does).
//
// Notify cost per event: one map lookup for single-key watchers,
// len(key)+1 map lookups for prefix watchers, a scan of the watchers on
// other ranges (from-key or non-prefix [key, end)), plus one Send per
// matching watcher; thousands of key and prefix watchers are cheap.
//
// # Memory
//
// A watcher whose consumer stops reading never blocks End, writes or other
// watchers. Inside the store it holds at most one response: the live
// response its sink refused (one revision's events) or one catch-up chunk
// (at most Config.WatchBatchMaxRevs revisions of its range). It is retried
// every Config.WatchSyncInterval and, once accepted, caught up from
// history. So the memory per watcher is its sink's own buffer plus that
// one response; nothing queues up in the store.
//
// A Range collects the revisions of its whole range (and its result), so
// its memory grows with the range; a CountOnly Range counts without
// collecting. [Store.RangeChunk] reads a range piece by piece at a pinned
// revision, each piece bounded in keys and bytes, for readers that must
// not hold a large range at once.
//
// # Caveats
//
//   - Leases are held in memory (records and attached keys), O(leases +
//     leased keys); Leases sorts all records on each call.
//   - Compact compacts the in-memory index in one pass (O(keys)) under the
//     store lock; reads wait for it.
//   - An open [Snapshot] holds a bbolt read transaction: Close and Restore
//     wait for it, and bbolt cannot remap a growing file while it is open
//     (size Config.InitialMmapSize generously).
//   - Forgetting to End a write txn blocks every later Write, Close and
//     Restore.
//   - Put accepts an empty key; Keel's API rejects it before calling here,
//     and a Range with an empty key and no end matches nothing.
package mvcc
