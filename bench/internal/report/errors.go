package report

import "errors"

// ErrNoSamples is returned by [Build] when there is nothing to aggregate.
var ErrNoSamples = errors.New("report: no samples")

// ErrDuplicateSample is returned by [Build] when two samples have the same
// round, store and cell.
var ErrDuplicateSample = errors.New("report: duplicate sample")
