// Package keelprom exports a keel.Store's metrics to Prometheus.
//
// Keel's core counts in plain Go and imports no metrics library
// (keel.Store.Metrics, keel.MetricDescs); this package, a module of its
// own, converts those metrics for github.com/prometheus/client_golang, so
// only programs that import it compile client_golang.
//
//	reg := prometheus.NewRegistry()
//	if err := keelprom.Register(reg, store); err != nil { ... }
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Guarantees
//
//   - Metrics are registered only on the Registerer the caller passes,
//     never on prometheus.DefaultRegisterer (etcd registers on the global
//     registry, etcd#12937). Pass prometheus.DefaultRegisterer explicitly
//     to use it.
//   - The package has no state of its own: everything lives in the
//     Collector a call returns, so any number of Stores and registries
//     can coexist in one process.
//   - A Collector declares every metric keel.MetricDescs lists (a checked
//     collector) and reads the Store only when the registry gathers.
//     Names, help, types and labels are the core's: see keel.MetricDescs.
//
// # Caveats
//
//   - Two Stores registered on one registry need distinct constant labels
//     (WithConstLabels, e.g. {"member": s.ID()}); otherwise the second
//     Register fails with prometheus.AlreadyRegisteredError.
//   - Histograms are Prometheus classic histograms with the core's fixed
//     buckets (latencies from 100µs to 6.6s, snapshots from 1ms to 131s).
package keelprom
