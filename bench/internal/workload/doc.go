// Package workload generates raft log entries and runs the measured
// scenarios against a raft.LogStore: timed StoreLogs loops with per-call
// latency, and an unmeasured burst followed by a timed head truncation.
//
// # Entries
//
// Entries carry sequential indexes, term 1, type raft.LogCommand, an
// AppendedAt timestamp and a payload of random bytes drawn from a seeded
// generator, so a run is reproducible from its seed. Every entry gets its own
// payload slice; no store can profit from aliasing.
//
// # Measurement
//
// All batches of a timed loop are built before the clock starts, so the
// figures cover StoreLogs calls only. Throughput counts entries (not calls)
// over the wall time of the whole loop; latency is per StoreLogs call.
//
// # Caveats
//
// Gen and Latencies are not safe for concurrent use. The scenarios run one
// StoreLogs call at a time, as raft's single log writer does.
package workload
