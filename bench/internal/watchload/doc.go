// Package watchload drives Keel watch workloads for the watchbench command
// and the go test -bench benchmarks: a 3-member cluster in one process on
// loopback, concurrent writers, many watchers, and the measurements of
// issue #4 (delivery lag, memory per idle watcher, slow-consumer isolation).
//
// # Delivery lag
//
// Every value starts with a stamp: the writer's monotonic clock reading
// (nanoseconds since a base shared by the whole process) taken just before
// it issues the Put. A watcher's reader subtracts the stamp from its own
// monotonic reading when the response arrives, so lag covers forwarding,
// raft commit on a quorum, apply on the watcher's member and the channel
// hand-off to the reader goroutine. Lags go into a [Histogram] (log-linear,
// relative error below 1.6%, exact maximum).
//
// # Idle watchers
//
// [MeasureIdle] compares runtime.MemStats.HeapAlloc (after two GCs) and
// runtime.NumGoroutine before and after creating N watchers that never see
// an event. It measures the library's cost only: nobody reads the channels.
//
// # Slow consumer
//
// [RunSlow] runs the same write flow with and without one extra watcher on
// the same member and prefix whose channel is never read, alternating the
// order every round, and reports per-round ratios (with/without).
//
// # Caveats
//
// All members share the process's CPUs, so reader goroutines, writers and
// the three raft nodes compete with each other; figures from a small shared
// VM move by tens of percent between runs. Functions are safe for concurrent
// use only where their documentation says so.
package watchload
