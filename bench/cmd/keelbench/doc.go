// Command keelbench compares Keel with etcd v3.7.3 and with a hand-built
// hashicorp/raft + raft-boltdb stack under the same client workloads.
//
// Usage (from bench/):
//
//	go run ./cmd/keelbench                          # every target, 3 rounds
//	go run ./cmd/keelbench -targets keel-3 -rounds 1
//	go run ./cmd/keelbench -targets keel-3,etcd-direct-3 -workloads W1,W2
//	go run ./cmd/keelbench -cpuprofile /tmp/prof    # pprof per target and round
//
// # Targets
//
// Every target runs in its own child process (the same binary re-executed
// with a hidden -child flag), so that peak RSS is measured per target and no
// target's garbage or goroutines disturb another. Within a round every
// selected target runs once; the order rotates by one each round.
//
//   - keel-1, keel-3: Keel members on loopback TCP, default keel.Config;
//     calls on the leader's *keel.Store.
//   - etcd-direct-1, etcd-direct-3: embedded etcd (embed.StartEtcd) with
//     default settings except names, ports, dirs, quota and a quiet logger;
//     calls straight into the leader's *etcdserver.EtcdServer (no gRPC).
//   - etcd-grpc-1, etcd-grpc-3: the same etcd, driven by clientv3 over
//     loopback gRPC to the leader's client URL.
//   - raft-boltdb-1, raft-boltdb-3: hashicorp/raft v1.8.0 with raft-boltdb
//     v2.3.0 as log and stable store, a map FSM, raft.NewTCPTransport on
//     loopback and a FileSnapshotStore; only W1 and W2 apply.
//
// # Workloads
//
// Keys are 16 bytes and values 256 bytes. Each workload runs on the leader
// after 100 untimed warm-up operations, in the order W1, W2, W3, W3s, W4, W5,
// on one fresh cluster per child:
//
//   - W1: 1 client, sequential puts (-w1, 2000).
//   - W2: 64 concurrent writers, puts (-w2, 20000 in total).
//   - W3: 64 concurrent linearizable gets of random preloaded keys (-w3
//     gets over -keys preloaded keys); every get must find its value.
//   - W3s: the same with serializable gets.
//   - W4: one prefix watcher, 16 writers, -w4 puts whose values carry the
//     submit time; lag = receipt time - submit time; every put must be
//     received exactly once.
//   - W5: 16 clients increment 10 counters with read + compare-and-swap
//     transactions (ModRevision compare) until -w5 increments succeeded;
//     the final sum must equal -w5.
//
// # Output
//
// A table of medians over rounds (workload rows x target columns), the
// ratios Keel/etcd-direct for 3 and 1 members (computed per round, then
// medianed), the targets of the comparison (PASS/MISS) and the environment;
// the "CPU µs/op" rows are the child process's CPU time (user + system,
// every thread, so the whole cluster and its clients) over a timed part,
// per operation: less sensitive than throughput to a noisy machine, since
// waiting for a busy core costs no CPU time;
// everything is also written as JSON (-json, default
// bench/results/keelbench-<timestamp>.json). A failed child is reported with
// the tail of its stderr and makes the command exit with status 1 after
// printing what it has.
package main
