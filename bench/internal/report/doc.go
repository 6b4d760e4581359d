// Package report turns raw walbench samples into medians, same-run ratios
// and target verdicts, and renders them as a text table or JSON.
//
// # Aggregation
//
// Every figure is the median over rounds (the mean of the two middle values
// for an even count). Ratios are computed per round first, between samples
// taken minutes apart in the same process on the same disk, and the median of
// those per-round ratios is reported; this cancels most of the drift a noisy
// VM adds to absolute figures.
//
// # Ratios and targets
//
// Throughput ratios are reference/baseline (above 1 means the reference store
// is faster). Latency ratios are also reference/baseline (below 1 means the
// reference store is faster). Degradation is a store's batch-1 throughput
// after burst+truncation divided by its own fresh batch-1 throughput in the
// same round. The targets checked are those of issue #2; see [Targets].
//
// # Caveats
//
// The functions are pure; [Report] values are not safe for concurrent
// mutation.
package report
