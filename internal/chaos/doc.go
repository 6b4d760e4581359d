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
// operation. A Client drives any Executor: KVExecutor for a keel.KV in
// this process, or the process tier's member executor (Cluster.Executor),
// which returns a *RemoteError carrying the outcome the member classified;
// Classify passes that outcome through.
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
// # Membership changes
//
// A Schedule may also carry membership changes (ScheduleConfig.Changes):
// a fresh member joins (JoinVoter, promoted by the leader once caught up;
// JoinLearner, a permanent learner), a learner is promoted
// (PromoteLearner), a member leaves (LeaveMember) or is removed, running
// (RemoveMember) or down (RemoveCrashed). Each starts while a fault is
// injected; they run one at a time, alongside the faults. Kinds are drawn
// so that, were every change to succeed, removals keep MinVoters voters
// and joins at most MaxMembers members. The executor (a tier) picks each
// change's member as the members are when it is due and reports a
// ChangeResult: ChangeDone, ChangeRefused (ClassifyChange: an error the
// faults explain, such as keel.ErrUnhealthy, ErrChangeInProgress,
// ErrNoLeader, ErrTimeout, or ErrLearnerNotReady for a promotion),
// ChangeSkipped (the bounds would break because an earlier change
// deviated from the plan) or ChangeFailed. CheckChanges requires one
// result per scheduled change, none failed, and a deviation before every
// skip; Count and ChangeCounts report them by kind and outcome, and the
// changes made with a known Keel issue tolerated (Reported). A
// change's events go on the HTML page's "membership" lane
// (FaultEvent.Lane).
//
// # Schedules, budgets and artifacts
//
// GenerateSchedule draws a reproducible fault schedule from a seed; Budget
// reads KEEL_CHAOS (a Go duration for a soak, unset for the CI default),
// Seed reads KEEL_CHAOS_SEED, Loop runs seeded subtests until a count or
// the budget, and Artifacts keeps a run's seed, schedule, histories,
// change results and HTML in a printed temp dir when the test fails.
//
// # Process tier
//
// The process tier (files proc_*.go; the suite is TestChaosProcess) runs
// each member of a cluster as a child process on loopback with its own
// data dir, reached by its peers only through one TCP proxy per directed
// link, and drives it through a small control API.
//
// A member is the test binary re-executed with
// -test.run=^TestChaosMemberProcess$ and its MemberConfig as JSON in
// KEEL_CHAOS_MEMBER (RunMember, LoadMemberConfig). It opens keel.Open with
// a Dial that maps each peer's address to the harness's proxy for that
// link, logs to member.log, and serves HTTP+JSON on 127.0.0.1 (address
// written to ctl.addr): exec (one Input, classified in the member with
// Classify), status, hash (FNV-1a of every key-value at a revision, read
// serializably once applied), watch-start/watch-stop (RecordWatch inside
// the member), ground-truth (GroundTruth), lease grant/put/keepalive, and
// extra endpoints from the caller (the tests add lock endpoints, as this
// package may not import lock). The harness stamps call and return times
// itself, on one monotonic clock.
//
// Children run in their own process group with Pdeathsig = SIGKILL.
// Signals go only to a pid the harness started and has not reaped:
// SIGKILL (then Wait), SIGSTOP/SIGCONT, SIGTERM for a clean restart. A
// restart reuses the member's data dir and address. Nemesis injects the
// ProcessKinds and counts an injection only when it really happened: a
// signal delivered to a running child, a clean stop and restart, or
// proxies that dropped bytes during a partition, so CheckInjected fails a
// run whose faults did not bite.
//
// A Proxy forwards one directed link and can drop each direction, delay,
// or cut. Dropping is sticky per connection (a connection that lost bytes
// never delivers again, so no receiver sees a torn frame followed by valid
// bytes) and Heal closes such connections. Network builds every link and
// the partition shapes: Isolate (leader or minority; Flap toggles it) and
// DropOneWay.
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
//   - Process tier: kill -9 keeps the kernel page cache, so it tests
//     process crashes, not power loss. Member ports are probed free in
//     20000-31999 (outside the usual ephemeral range) and reused across
//     restarts; another process could still take one while a member is
//     down, failing its restart with ErrSetup. A watch recorded in a member
//     dies with it: only watches on members never killed or restarted are
//     validated, plus fresh watches from revision 1 on every member after
//     the heal. Under -race each member is a race-enabled test binary:
//     about 10 s per run on 2 cores.
package chaos
