// Package durable holds back what hashicorp/raft would otherwise do with
// entries that are written but not yet fsynced. It is the raft.Transport
// Keel hands raft (Transport), wrapping Keel's own transport.
//
// # Why entries can be written but not durable
//
// Keel's WAL runs with wal.Config.DeferSync while the member leads:
// StoreLogs returns once a batch is written, and a background goroutine
// fsyncs (group commit). On a leader this lets replication to the
// followers start while the leader's own fsync runs, as etcd does, instead
// of after it: a write then costs one fsync of latency, not two. On a
// member that does not lead, StoreLogs waits for the background sync
// (wal.Config.DeferWhen): a follower's acknowledgement has to wait for its
// fsync anyway, and raft then replies itself, with no goroutine holding
// the reply.
//
// # The three holds
//
// hashicorp/raft assumes a stored entry is durable, so three places hold
// back anything that would depend on durability until the member's WAL
// reports it (wal.WAL.Durable). This package implements the first two; the
// third is Keel's FSM.
//
//  1. A follower's successful reply to an AppendEntries that carried entries
//     is sent only once those entries are durable. Entries a follower
//     stores are durable before StoreLogs returns; entries its log already
//     held (raft skips storing them) may have been stored while it led,
//     with the sync deferred. So when an AppendEntries with entries
//     arrives while some written entry is not yet durable, its reply is
//     held until the AppendEntries' last entry is (Transport's
//     interceptor); otherwise every entry the log holds is durable and every
//     entry raft adds is durable before raft replies. The leader counts a
//     follower's copy when it gets that reply, so a follower's vote
//     towards a commit is always a durable copy.
//  2. The commit index a leader sends to followers is capped at the leader's
//     own durable index (Transport.AppendEntries). raft counts the
//     leader's copy as soon as StoreLogs returns; with the cap, a follower
//     learns that an entry is committed only once the leader's copy is
//     durable too, so it applies only entries durable on a majority
//     (the leader's copy plus enough followers' replies).
//  3. The FSM applies an entry only once the member's own copy is durable
//     (Keel's fsm.waitDurable). Every client-visible effect of an entry
//     comes from applying it: the reply to its proposer, reads, watch
//     events and the database commit that records the consistent index. So
//     an entry is visible on the leader only when durable on the leader and
//     on enough followers to make a majority.
//
// # Why the holds suffice
//
// The check of hold 1 runs before raft processes the AppendEntries. An
// entry the member writes after the check is either stored by raft for
// this AppendEntries, after raft made the member a follower (durable before
// StoreLogs returns), or written while it still leads; the latter cannot
// be one of the AppendEntries' entries, which its sender chose before the
// entry existed, and if its index collides with one, the terms differ and
// raft replaces it (DeleteRange and StoreLogs, both synced) or rejects the
// AppendEntries.
//
// An entry the leader stored but had not made durable when it crashed was
// therefore never acknowledged, never visible and never applied anywhere, so
// losing it is the same as losing an entry a leader never replicated: the
// new leader's log wins. Votes compare in-memory logs that may include
// entries not yet durable; if a crash then shortens a voter's log, the vote
// it gave was only stricter than needed, which raft's election restriction
// allows.
package durable
