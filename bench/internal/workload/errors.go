package workload

import "errors"

// ErrInvalidArgument is returned for non-positive counts, batch sizes or
// payload sizes and for truncations that would keep nothing or everything.
var ErrInvalidArgument = errors.New("workload: invalid argument")

// ErrStore wraps an error returned by the store under test.
var ErrStore = errors.New("workload: store error")
