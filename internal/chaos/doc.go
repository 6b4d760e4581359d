// Package chaos is the tier-independent checking machinery of Keel's
// fault-injection suite: it records client histories, checks them for
// linearizability with porcupine, validates watch streams against a
// ground-truth event history, runs end-of-run checks, checks lock fencing
// and lease safety, and generates seeded fault schedules with time budgets
// and artifact directories. The in-process and process tiers inject the
// faults; this package only records and judges. It uses only Keel's public
// API.
//
// # Recording
//
// A Recorder stamps every operation with Call/Return times from one
// monotonic base (Recorder.Now). Record classifies an operation's error
// with Classify: success is definite; a write failing with an error that
// wraps keel.ErrTimeout (including "ErrTimeout: ErrStopped") is Unknown and
// gets Return = math.MaxInt64; a read failure, or a write refused before it
// was proposed (keel.ErrNoLeader, ErrNotLeader, ErrStopped, validation
// errors, none wrapping ErrTimeout) is dropped; any other write error is
// conservatively Unknown. Client runs a seeded sequential workload (Get 35
// / Put 30 / Delete 10 / CAS 25 by default) with unique values
// "c<client>-<seq>" and never retries a write inside one recorded
// operation.
//
// # Linearizability
//
// Model is a per-key porcupine model (state: exists/value) accepting
// Unknown outputs. Check treats porcupine's Unknown (timeout) as a
// failure. SaveHTML renders porcupine's visualization with the recorded
// fault events as annotations.
//
// # Watches
//
// RecordWatch records a watch stream; NewHistory builds the ground truth
// (every event from revision 1, for example from GroundTruth on a
// converged member); ValidateWatch checks the rules Filter, Ordered,
// Unique, Atomic, Bookmarkable, Resumable, Reliable, PrevKV, IsCreate and
// Compaction.
//
// # End of run
//
// CheckAckedWrites (no acknowledged write lost), CheckHashes (equal state
// hashes), CheckFloor (the load was real) and CheckInjected with
// FaultCounters (the scheduled faults really happened). FencedResource and
// LeaseChecker check lock and lease safety with the harness clock only.
//
// # Schedules, budgets and artifacts
//
// GenerateSchedule draws a reproducible fault schedule from a seed; Budget
// reads KEEL_CHAOS (a Go duration for a soak, unset for the CI default),
// Seed reads KEEL_CHAOS_SEED, Loop runs seeded subtests until a count or
// the budget, and Artifacts keeps a run's seed, schedule, histories and
// HTML in a printed temp dir when the test fails.
//
// # Caveats
//
//   - The model checks values, not revisions: cross-key revision order is
//     not checked by porcupine (see reliability.md §2.4).
//   - Every unknown write stays concurrent with everything after it, so
//     many unknowns on one key blow up the search; Client caps them
//     (WorkloadConfig.MaxUnknown) and the caller should pass a timeout.
//   - Watch validation assumes the ground truth starts at revision 1 and
//     was not compacted.
//   - Times are only comparable within one Recorder (one process).
package chaos
