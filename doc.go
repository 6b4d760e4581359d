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
// the import and the constructor. See "Porting from clientv3" below.
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
// The member port takes what anyone who reaches it sends, so it bounds
// what a connection can claim (package transport, "Limits"): every length
// is checked against a constant cap before anything is allocated, a
// connection has 10 s to finish its TLS handshake and opening, at most
// 1024 accepted connections are open (128 from one IP address), and at
// most 1024 requests of one connection run at once (more wait). A leader
// checks a forwarded write against its own Config.MaxRequestBytes before
// decoding it. Without mutual TLS, anyone who knows the cluster ID can
// still send raft messages: use TLS on networks you do not control.
//
// # Membership
//
// A cluster grows, shrinks and heals while it serves:
//
//   - Join. A process opened with Config.Join (addresses of any running
//     members) and an empty Dir asks a member, which forwards to the
//     leader. The leader adds it as a learner (a non-voting member). It
//     catches up by log or snapshot, and Open returns once it serves a
//     linearizable read. The leader promotes it to voter once its raft
//     log is within 1024 entries of the leader's in three probes in a
//     row, one per HeartbeatTimeout: it has caught up and keeps up.
//     etcd leaves promotion to the operator; Keel does it, unless the
//     member is a permanent learner (Config.Learner, MemberAddAsLearner).
//   - Authorisation. With Config.TLS, the joiner's certificate must be
//     verified by the members' ClientCAs and name its Config.ID. Without
//     TLS, it must present the cluster's Config.ClusterToken; a cluster
//     with neither takes no joins. A refused join fails Open with
//     ErrJoinRefused and changes nothing.
//   - The calls of clientv3's Cluster interface: MemberList (linearizable
//     unless WithSerializable), MemberAdd and MemberAddAsLearner (reserve
//     a member for an address: the process that joins from it takes the
//     entry and its ID; unlike etcd, the reservation does not count toward
//     the quorum until that member has caught up), MemberRemove,
//     MemberUpdate, MemberPromote and MoveLeader, on any member. Leave
//     removes this member and closes it: the graceful scale-down.
//   - Changes are made one at a time, through raft (another is refused
//     with ErrChangeInProgress). A removal that would leave fewer reachable
//     voters than a quorum of the remaining voters is refused with
//     ErrUnhealthy unless WithForce, and the last voter is never removed.
//     A leader asked to remove itself hands leadership away first.
//   - A removed member stops serving: its calls return ErrRemoved, as does
//     Err. A removed member that comes back with its old Dir learns it was
//     removed from the members it still knows and stops; it does not
//     disturb the cluster (raft's pre-vote, and a member refuses votes
//     while it hears from a leader). A member ID is never reused: a member
//     removed and joined again with a fresh Dir gets a new one.
//   - Members are identified by ID, never by address. A member that
//     restarts with its Dir at a new address (a rescheduled pod) records
//     its new address itself.
//   - A single-member store grows the same way: it runs with cluster
//     timeouts from the start (Open starts its election at once instead of
//     waiting out a heartbeat timeout), so nothing changes when others
//     join.
//   - Dead-member cleanup (Config.RemoveDeadAfter, off by default): the
//     leader removes a voter that has not answered it for that long, while
//     the reachable voters keep a quorum and never below a quorum of the
//     initial cluster size. A voter cut off by a partition for that long
//     is removed too, and must join again with a fresh Dir.
//
// # Endpoints
//
// Where clientv3's Maintenance calls take the endpoint of an etcd server
// (Status, HashKV, Defragment), Keel's take the member to ask, in any of
// these forms, tried in this order:
//
//   - "": this member, which answers without a round trip;
//   - a member's Name (its Config.ID);
//   - a member's address as Member.PeerURLs lists it, "host:port", with
//     or without the "http://" or "https://" of an etcd URL;
//   - a member's ID (Member.ID, ResponseHeader.MemberId) in hexadecimal,
//     as etcd prints member IDs ("8e9e05c52164694d");
//   - a member's ID in decimal.
//
// The first form that matches a member of this member's view of the
// membership wins (the view may lag a change in flight); an endpoint that
// matches none fails with ErrMemberNotFound. Another member is asked over
// the member port and runs the call as for "": the response, Header
// included, is that member's own, and its errors come back as the same
// sentinels (errors.Is). A member that cannot be reached fails the call
// with the transport's error (transport.ErrUnreachable when it is down),
// or with ctx's error once ctx ends. Snapshot has no endpoint, as in
// clientv3: it backs up this member.
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
//   - The WAL syncs in the background (group commit), so a leader's fsync
//     overlaps replication to the followers, as in etcd. Nothing that needs
//     an entry to be durable happens before it is: a follower acknowledges
//     entries only once they are synced, followers learn an entry is
//     committed only once the leader's copy is synced, and no member
//     applies (answers, exposes to reads and watches, or commits to the
//     database) an entry its own log has not synced. See package internal/durable.
//   - A member whose storage fails stops (fail-stop): a failed write or
//     fsync of its raft log, an entry it cannot read back, or a failed
//     database commit makes it close itself within a fraction of a second,
//     and its calls return ErrStopped; the rest of the cluster carries on.
//     It never panics the embedding process over its disk (raft would on an
//     unreadable entry), and Open returns such an error instead of
//     panicking. Reopening the Dir on a working disk recovers every
//     acknowledged write.
//
// # History, compaction and watches
//
// Every revision stays readable until it is compacted: Compact (or
// automatic compaction, Config.AutoCompactRevisions/AutoCompactWindow, off
// by default as in etcd) discards history below a revision on every member
// through raft; the removal from disk runs in the background in bounded
// batches and resumes after a restart. Watch delivers changes from any
// revision still in history, on every member, ordered, exactly once, a
// revision's events together, with no gaps, across leader changes and
// snapshot installs. A watcher that stops reading holds at most
// Config.WatchBufferSize responses and later catches up from history, so
// it never blocks writes or other watchers. Events are shared between
// watchers: treat them as read-only.
//
// # Leases
//
// Grant creates a lease with a TTL (at least MinLeaseTTL); keys put
// WithLease(id) are deleted, all in one revision, when it is revoked or
// expires. Keepalives go to the leader from any member. Only the leader
// expires leases, after confirming its leadership with a quorum. Renewals
// are not raft entries each: the leader batches them into checkpoint
// entries (one in flight at a time) that replicate the remaining TTL of the
// renewed leases, and acknowledges a renewal only once its checkpoint
// committed. So a new leader continues from the remaining TTLs instead of
// resetting them (etcd #9888), and never expires a lease before the
// deadline an acknowledged keepalive promised (send time + TTL). A lease
// whose holder stops renewing is revoked about TTL after its last
// renewal; if the leader fails in that window, add the failover time
// (about 2×HeartbeatTimeout + ElectionTimeout), however many times the
// leader changes. MinLeaseTTL is 1.5× that failover time, so that a holder
// renewing every TTL/3 always reaches a new leader in time: 5 s with the
// default timeouts, 1 s for a single member.
//
// The leader revokes at most Config.LeaseRevokeRate expired leases a
// second (1000, as etcd), earliest deadline first, in rounds every 50 ms,
// apart from the renewals' checkpoints. When many leases expire at once (a
// partition longer than their TTLs ends), writes and the keepalives of
// live leases go on while the revokes drain, and a lease may stay
// revoke-pending for a while after its deadline: its keepalives already
// fail, but its keys are deleted only at its turn (10,000 leases take
// 10 s).
//
// # Space quota
//
// Each member has a space quota, Config.QuotaBytes: 2 GiB by default (as
// in etcd), none if negative. It applies to the database's in-use size:
// the size of the bbolt file's pages (its high-water mark, StatusResponse.DbSize)
// minus the pages on bbolt's freelist, which compaction fills and later
// writes reuse (StatusResponse.DbSizeInUse). Both are measured as of the latest
// commit of the database (every Config.CommitInterval), so a burst of
// writes can overshoot the quota by what the cluster writes in about one
// interval. The raft log and snapshots are not counted.
//
//   - A write that adds data (Put, a Txn with a put in either branch,
//     Grant) fails with ErrNoSpace, before it is proposed, if it would
//     take the member it is made on over its quota.
//   - A member whose in-use size goes over its quota raises a NOSPACE
//     alarm for itself (when it refuses such a write, or at its next
//     check, twice a second). Alarms are replicated state, like the data.
//   - While any NOSPACE alarm is active, every member refuses in apply,
//     so in the same way, Put, a Txn whose executed branch puts (refused
//     whole: nothing of it is applied) and Grant, with ErrNoSpace. Reads,
//     Delete, Revoke, Compact, Txns that do not put and membership
//     changes keep working.
//   - A member clears its alarm by itself once its in-use size is at or
//     below 95% of its quota: after compaction has freed pages (and
//     deletes made history compactable), or after a defragmentation. Writes
//     then succeed again with no other call. The 5% gap keeps the alarm
//     from flapping: it is raised only above the quota, or at admission
//     above 95%, and cleared only at or below 95%. A write too large to
//     fit into a mostly free database is refused without an alarm.
//   - The alarm holds across leader changes and restarts; raising and
//     clearing are proposals any member forwards to the leader, retried
//     at the next check if they fail. A member that is down keeps its
//     alarm until it is back (or removed: the leader clears the alarms
//     of members no longer in the cluster).
//
// The difference from etcd: etcd's NOSPACE alarm stays until an operator
// disarms it after compacting and defragmenting (etcd #9992); Keel's
// clears by itself. AlarmList and AlarmDisarm exist, as in clientv3, for
// code ported from etcd, but disarming an alarm whose cause remains only
// lasts until the member's next check. Status lists the active alarms in
// Errors; Health stays true under NOSPACE, since reads are served.
//
// # Defragmentation
//
// Compaction frees pages inside a member's database file (kv.db) but
// never shrinks it; Store.Defragment does, as etcd's Defragment does, on
// the member it is called on (it is not replicated). Unlike etcd's, it
// does not stop the member: the live data is copied into a new file while
// the member serves reads and applies writes, and only a short final
// switch holds the database's commits (DefragmentResponse.CommitPause;
// reads go on during it, and writes too unless 10,000 applied changes
// wait for a commit). The data, revisions and HashKV are unchanged, and a
// crash at any point leaves a complete kv.db, the old file or the new.
//
// Config.AutoDefrag (off by default) makes each member defragment itself
// once at least half of its database, and at least
// Config.AutoDefragMinFree bytes (64 MiB), are free pages, checked every
// Config.AutoDefragInterval. The members take turns: each first obtains
// the cluster's one defragmentation slot from the leader, a lease it
// renews while it runs and gives back when done, so at most one member
// defragments automatically at a time and the others always form a
// quorum. A member that loses touch with the leader stops its run before
// the switch; a new leader grants the slot only after the old leases have
// run out. This assumes the members' clocks run at about the same rate.
//
// Caveats: a defragmentation needs free disk space for the live data; it
// pauses the member's physical compaction while it runs; a member written
// faster than its database can be copied gets a longer switch. Explicit
// Defragment calls do not take the slot (they run at once, one at a time
// per member).
//
// # Backup and restore
//
// Snapshot streams a backup of a member's data while the member serves:
// it returns a reader the caller reads to its end and must Close. The
// backup reflects what that member had applied (take it from the leader,
// or after a linearizable read, to include every acknowledged write). Its
// format (version 1, integers big-endian):
//
//	header   52 bytes: magic "\x89KEELBK\n", version u32, flags u32 (0),
//	         revision i64, compact revision i64, raft index u64,
//	         database size u64, CRC-32C of the 48 bytes before it
//	database the bbolt file (size bytes)
//	trailer  SHA-256 of header and database (32 bytes); the stream ends
//
// VerifyBackup checks a backup without restoring it and reports its
// revision. A backup starts a new cluster, never rejoins the old one:
//
//  1. Stop the old cluster's members if the new ones take their addresses
//     (nothing is read from their Dirs). An old cluster that keeps running
//     elsewhere does not interfere: the clusters' IDs differ, and members
//     refuse connections from another cluster.
//  2. On each first member of the new cluster, call RestoreMember with the
//     backup and the Config the member will be opened with: an empty Dir,
//     and the same Peers and ClusterToken on every member (or no Peers,
//     for a single member).
//  3. Open each member as usual. The members agree on a new cluster ID
//     derived from the backup's checksum, Peers and ClusterToken, elect a
//     leader, and serve the backup's keys, values and revisions (the
//     next write gets the backup's revision + 1), its compaction revision
//     and its leases. HashKV at the backup's revision equals the source's.
//  4. More members join with Config.Join and empty Dirs; they receive the
//     data from the cluster. Restoring one member and letting the others
//     join is equivalent to restoring all of them.
//
// The new cluster has its own cluster ID and raft log, and none of the
// old cluster's membership: its members are those the Configs name. Each
// lease counts its full TTL again from the moment the restored members
// open, as after etcd's restore (whose new leader renews every lease);
// leases that nobody renews then expire as usual. A corrupt, truncated or
// foreign backup is refused with ErrBadBackup before anything is written
// in place, and RestoreMember refuses a non-empty Dir; a member never
// starts from half a backup.
//
// Unlike etcd's "etcdutl snapshot restore", which takes the members'
// names and URLs on a command line, RestoreMember takes the Config the
// member opens with, so the restored membership cannot disagree with it.
//
// # Consistency checks
//
// HashKV(ctx, endpoint, rev) hashes a member's key history up to rev
// and reports the revision it covers and the compaction revision, as
// etcd's does. Members that applied the same history report the same hash
// at the same revision and compaction revision; compare them (one call
// per member, each named by its endpoint) to detect a member whose data
// diverged.
//
// Keel compares them itself. Every member, once it has caught up after it
// starts, and the leader every Config.CorruptCheckInterval (5 minutes by
// default; negative turns both off), ask every member over the member
// port for its HashKV at the checker's current revision. Each answers once
// it has applied that far. Only members reporting the same compaction
// revision are compared (one that applied a later compaction hashes less
// history); when at least three of them answer and more than half share a
// hash, every other one is outvoted: it gets a CORRUPT alarm (replicated,
// like NOSPACE, and logged at error level with "corruption detected").
// Two members that disagree mark neither.
//
// A member with a CORRUPT alarm refuses to serve rather than answer
// wrongly: reads, writes proposed through it and new watches fail with
// ErrCorrupt, Health reports it and Status lists it in Errors; it keeps
// applying the log, so the cluster can still change its membership. The
// other members go on (etcd, by contrast, stops serving requests on the
// whole cluster). To recover, remove the member (MemberRemove; the
// leader then clears the alarms of a member no longer in the cluster) and
// let a process with an empty Dir join in its place: it copies the data
// from the others. If most members diverged, no verdict is reached; start
// a new cluster from a backup (RestoreMember).
//
// # Metrics
//
// A Store counts as it runs, in plain Go, with no metrics library and no
// global registry: Store.Metrics returns every metric's current value and
// MetricDescs describes them (stable names, help, types and labels):
// request latency by kind, proposals, raft term and indexes, leader
// changes and elections, WAL fsync and database commit latency, database
// size, revisions, snapshots taken, sent and installed, watchers and their
// lag, leases and the quota. Request latency is sampled: one call in 8
// is timed and counted 8 times, so the histogram's count tracks the calls
// while most calls pay only a random draw (timing every call cost a
// linearizable Get 3-7% of its CPU); failures are counted exactly. The
// gauges are read only when Metrics is called. Package keelprom (a module of its own) registers them on a
// Prometheus Registerer the program passes, and package keelhttp serves
// /health, /status and, given a handler, /metrics.
//
// # Logging
//
// Keel logs through Config.Logger only (raft's own messages included,
// with component=raft); every record carries this member's ID as
// "member". These events have stable messages and attributes, for alerts
// and dashboards (durations are time.Duration values; a term is this
// member's raft term when the record is written, which for an election
// may already be the election's own):
//
//	message                   level  attributes
//	election started          INFO   term
//	leader changed            INFO   leader (its ID, "" while none is known), term
//	leader ready              INFO   term, index (this member leads and serves linearizable reads)
//	snapshot taken            INFO   id, bytes, duration
//	snapshot take failed      WARN   id, err
//	snapshot sent             INFO   to, bytes, duration, index
//	snapshot send failed      WARN   to, bytes, duration, err
//	snapshot installed        INFO   bytes, duration, index, rev
//	snapshot install failed   WARN   bytes, duration, err
//	compacted                 INFO   rev, index (applied on every member)
//	auto compacted            INFO   rev (the leader's automatic compaction)
//	auto compaction failed    WARN   rev, err
//	storage failed, stopping this member  ERROR  err
//	raft log unreadable, stopping this member  ERROR  index, err
//	defragmented              INFO   size_before, size_after, duration, commit_pause, records
//	defragment failed         WARN   err
//	auto defrag: starting     INFO   size, free (then "auto defrag: done" or "auto defrag: failed")
//	space quota: raising the NOSPACE alarm   WARN  in_use, quota
//	space quota: clearing the NOSPACE alarm  INFO  in_use, quota
//	corruption detected       ERROR  corrupt_member, member_id, revision, hash (its CORRUPT alarm follows)
//
// # Porting from clientv3
//
// clientv3's names exist here with its shapes and semantics: the KV, Txn,
// Lease and Watcher method sets (a *Store is all of them; NewKV, NewLease
// and NewWatcher return it or handles on it), the options, the response
// types (protobuf's field names in ResponseHeader, headers embedded in the
// lease responses, ResponseOp's getters on TxnResponse.Responses), the
// errors of etcd's rpctypes under etcd's names, WithRequireLeader, the
// Maintenance calls (endpoints name members: see Endpoints), and the
// clientv3util compares (package clientv3util). etcd's rules hold even
// where they surprise: a Get sorted by a target other than the key with
// SortNone and WithLimit(n) sorts only the first n+1 keys in key order
// (see WithSort). What differs: errors are Go values (errors.Is, text
// starting "keel: "), and those whose cause Keel lacks (authentication,
// downgrades, ...) are never returned; responses are plain structs, not
// protobuf messages; an option that does not apply fails the call with
// ErrInvalidOption instead of being ignored or panicking; GetStream
// returns the errors it finds before its first chunk instead of sending
// them on the stream. README.md has the import mapping and the full list.
//
// # Testing
//
// Package keeltest runs clusters of any size inside a test, on loopback,
// with faults (stop, crash, restart, partitions, lossy and slow links): a
// service that embeds Keel tests its own behaviour under failover with it.
//
// # Caveats
//
//   - A Dir belongs to one member; reopening it with another ID fails.
//   - A Dir belongs to one cluster. The cluster ID is derived at bootstrap
//     from Peers (IDs and addresses) and Config.ClusterToken and kept in
//     the Dir; members talk only to members with the same cluster ID, so a
//     process of another cluster that reaches a member's address (a stale
//     member, a reused port or IP) is refused rather than mixed in. Give
//     clusters bootstrapped with identical Peers distinct ClusterTokens.
//   - A member that restarts at a new address can update its entry only
//     if it reaches a member whose address it knows (its last
//     configuration, or Config.Join): give members Join addresses that
//     stay valid (a DNS name, a Kubernetes service) if all of them move.
//   - A removal is complete only when raft's configuration change
//     commits: WithForce can remove a member while the remaining voters
//     lack a quorum, and the change then waits for them.
//   - Watch is not linearizable: a watcher sees revisions as its member
//     applies them.
//   - Values returned by reads are copies the caller owns.
package keel
