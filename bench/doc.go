// Package bench is the root of Keel's benchmark module
// (github.com/keeldb/keel/bench). It holds no library code; it exists so that
// "go test -bench ." in this directory runs the log-store micro benchmarks in
// logstore_test.go, and so the module has a documented home.
//
// The module is nested and separate from the library module on purpose: the
// stores Keel is compared against (hashicorp/raft-boltdb, hashicorp/raft-wal
// and, later, etcd) bring dependencies that must never enter the library's
// module graph. A replace directive points github.com/keeldb/keel at "../", so
// the benchmarks always measure the library code in the same checkout.
//
// # Layout
//
//   - cmd/walbench: the log-store comparison (the main deliverable); prints a
//     table of medians and same-run ratios and can write JSON.
//   - internal/logstore: one factory per store under test, all behind
//     raft.LogStore.
//   - internal/workload: entry generation and the measured scenarios.
//   - internal/report: aggregation (medians, ratios, targets), table and JSON.
//   - cmd/watchbench: watch delivery lag with 16 writers and 1/100/10,000
//     watchers on a 3-member cluster, memory per idle watcher, and the
//     slow-consumer isolation ratio; internal/watchload holds its engine.
//
// # Caveats
//
// Absolute figures on a shared VM move by tens of percent between runs. Only
// ratios between stores measured in the same run, interleaved round-robin,
// are meaningful; see README.md.
package bench
