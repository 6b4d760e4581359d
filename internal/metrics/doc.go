// Package metrics holds the instruments Keel's packages count with: atomic
// counters, gauges and fixed-bucket latency histograms, in plain Go, with
// no registry and no global state. An owner embeds the instruments it needs
// in its own structs and reads them when something asks for its metrics;
// exporters (Prometheus, OpenTelemetry, expvar) live outside the library and
// convert what the owner reports.
//
// # Guarantees
//
//   - Every Add, Inc, Set and Observe is lock-free and allocation-free: one
//     to three atomic operations, and for a histogram a search over its
//     bucket bounds. Instruments are safe for concurrent use and their zero
//     values are ready, except Histogram, which NewHistogram makes.
//   - A HistogramSnapshot's Count is the sum of its buckets, so the two
//     always agree; its Sum is read separately and may include or miss
//     observations made while the snapshot was taken.
package metrics
