package main

import "errors"

// errUsage marks invalid command-line input.
var errUsage = errors.New("usage")

// errNotSupported is returned by a backend for an operation its target does
// not offer (raft-boltdb has no reads, watches or transactions).
var errNotSupported = errors.New("not supported by this target")

// errCheck marks a failed correctness check inside a workload: a get that
// did not find its value, a watch that missed or duplicated events, a
// counter sum that does not add up.
var errCheck = errors.New("check failed")

// errNoLeader is returned when a cluster elects no leader in time.
var errNoLeader = errors.New("no leader")

// errChild marks a child process that failed or printed no result.
var errChild = errors.New("child failed")

// errWatchEnded is returned when a benchmark watch ends while the workload
// still needs it (it should never happen).
var errWatchEnded = errors.New("watch ended unexpectedly")
