// Package keel is an embeddable, replicated key-value store with etcd's
// data model and guarantees, as a library: a Go service opens a Store on
// each of its replicas and gets linearizable reads and writes, multi-version
// history and transactions, with no external daemon.
//
//	s, err := keel.Open(keel.Config{Dir: "/var/lib/myapp/keel"})
//	if err != nil { ... }
//	defer s.Close()
//	_, err = s.Put(ctx, "config/mode", "active")
//	resp, err := s.Get(ctx, "config/", keel.WithPrefix())
//
// The API mirrors etcd's clientv3 (Put, Get, Delete, Txn, Do, OpGet, OpPut,
// Compare, WithPrefix, ...): code written against clientv3 ports by changing
// the import and the constructor.
//
// # Cluster
//
// A Store with no Config.Peers is a single-member cluster. For a static
// cluster, give every first member its ID, data Dir and the same Peers list;
// open them in any order. Every member accepts every call: writes reaching a
// follower are forwarded to the leader over the member port, which
// multiplexes raft traffic and Keel's own messages (optionally with mutual
// TLS). Consensus is hashicorp/raft; the raft log is Keel's wal package, the
// state machine Keel's mvcc package over bbolt.
//
// # Data model
//
// The store has a global revision that starts at 1 and grows by one with
// every write that changes something (a Put, a Delete that deleted keys, a
// Txn with at least one change); reads and no-op writes do not bump it. All
// changes of one Txn share its revision. Each KeyValue carries its
// CreateRevision, ModRevision, Version (puts since creation; a delete
// resets it and a later put starts a new generation at 1) and Lease. Reads
// can ask for any revision that compaction has not removed (WithRev),
// ErrFutureRev beyond the current one.
//
// # Guarantees
//
//   - Writes are linearizable. A write returns after it is committed on a
//     quorum's raft log (fsynced) and applied on the leader; the response
//     header carries the revision it created.
//   - Reads are linearizable by default, on every member: the member obtains
//     the leader's commit index after the leader has confirmed its
//     leadership with a quorum (read-index, with concurrent reads batched
//     into one confirmation) and serves the read once it has applied that
//     index. WithSerializable reads the member's local state at once and may
//     be stale.
//   - A write whose outcome cannot be known (the leader was lost after the
//     write entered its log, the connection to the leader failed after
//     forwarding, or ctx expired after proposing) fails with ErrTimeout: it
//     may or may not have been applied. ErrNoLeader and the validation
//     errors mean it was not applied.
//   - Apply is deterministic: every member applies the same commands in the
//     same order to the same state, with no clocks or randomness involved.
//   - Durability: the raft log is the durable record. The key-value database
//     records the raft index it has applied in the same transaction as the
//     data and skips entries at or below it on replay, so it may commit to
//     disk lazily (Config.CommitInterval) without losing or duplicating
//     anything after a crash.
//
// # Caveats
//
//   - A Dir belongs to one member; reopening it with another ID fails.
//   - Membership is fixed at bootstrap (Peers); adding and removing members
//     at run time is not available yet. Reopening a member keeps the
//     address recorded at bootstrap, so give members fixed addresses.
//   - Watches, leases, compaction and the lock and discovery packages are
//     described in DESIGN.md and arrive with later versions; until then a
//     Put naming a lease fails with ErrLeaseNotFound.
//   - Values returned to the caller are copies it owns.
package keel
