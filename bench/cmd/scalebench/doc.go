// Command scalebench measures Keel at scale against etcd v3.7.3 embedded,
// both as 3 members in one process on loopback:
//
//  1. loading N keys (default 1,000,000, "key/%07d", 64-byte values)
//     through the leader with 64 concurrent writers;
//  2. the Go heap and RSS of the process holding the 3 members before and
//     after the load, and each member's database, WAL and snapshot files;
//  3. the time a restarted follower takes to serve a serializable and then
//     a linearizable Get of the last key, and the time a fully restarted
//     cluster takes to serve a linearizable Get;
//  4. the size and time of a backup snapshot (Keel: Store.Snapshot; etcd:
//     the backend snapshot its Maintenance.Snapshot streams), and the time
//     a follower that missed enough writes to need a raft snapshot takes to
//     serve the latest key after a restart, with proof from the members'
//     logs that a snapshot was installed;
//  5. the time a fresh member (empty data directory) takes to join the
//     running cluster and serve a linearizable Get, and to become a voter
//     (Keel: keel.Open with Config.Join, promoted by the leader; etcd:
//     MemberAddAsLearner, embed.StartEtcd, MemberPromote);
//  6. the defragmentation of the leader after half of the keys were
//     deleted and compacted away (Keel: Store.Defragment; etcd:
//     EtcdServer.Defragment): its time, the file before and after, and
//     the puts and linearizable leader Gets that a writer loop and a
//     reader loop completed during it, with the longest of each (the
//     write pause and the read stall).
//
// Each system runs in its own child process (this binary re-executed with
// the SCALEBENCH_CHILD environment variable), so heap and peak RSS are per
// system. The parent prints a table of metrics by system with a keel/etcd
// ratio and, with -json, writes the results as JSON.
//
// Usage:
//
//	go run ./cmd/scalebench [-keys 1000000] [-value 64] [-batch 100]
//	    [-writers 64] [-lag-writes 20000] [-systems keel,etcd] [-dir DIR]
//	    [-timeout 15m] [-json PATH]
//
// See bench/README.md ("Scale run") for what every figure means.
package main
