package watchload

import "errors"

// ErrBadStamp is returned by [DecodeStamp] for a value too short to hold a
// stamp or whose stamp is negative.
var ErrBadStamp = errors.New("watchload: value holds no valid stamp")

// ErrInvalidParams is returned when a workload's parameters are out of
// range (non-positive counts, a value too small for its stamp).
var ErrInvalidParams = errors.New("watchload: invalid parameters")

// ErrWatchCanceled is returned when a benchmark watcher is canceled by the
// store while the workload runs (it should never be).
var ErrWatchCanceled = errors.New("watchload: watch canceled")
