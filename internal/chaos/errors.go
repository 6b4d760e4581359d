package chaos

import "errors"

// Errors returned by the checkers. Each failure wraps one of these with
// details; check them with errors.Is.
var (
	// ErrNotLinearizable is returned when porcupine finds the history
	// illegal for the per-key model.
	ErrNotLinearizable = errors.New("chaos: history is not linearizable")
	// ErrCheckTimeout is returned when porcupine could not decide within the
	// timeout. It is a failure, never a pass.
	ErrCheckTimeout = errors.New("chaos: linearizability check timed out")
	// ErrWatchViolation is returned when a recorded watch stream breaks a
	// watch guarantee.
	ErrWatchViolation = errors.New("chaos: watch guarantee violated")
	// ErrBadGroundTruth is returned when a ground-truth event history is not
	// itself well formed (revisions out of order, missing KVs).
	ErrBadGroundTruth = errors.New("chaos: malformed ground truth")
	// ErrLostWrite is returned when an acknowledged write is neither visible
	// nor superseded in the final state.
	ErrLostWrite = errors.New("chaos: acknowledged write lost")
	// ErrHashMismatch is returned when members report different state
	// hashes at the same revision.
	ErrHashMismatch = errors.New("chaos: member state hashes differ")
	// ErrTooFewOps is returned when a run completed fewer operations than
	// its floor: the load was not real.
	ErrTooFewOps = errors.New("chaos: too few completed operations")
	// ErrFaultNotInjected is returned when a scheduled fault was not
	// actually injected.
	ErrFaultNotInjected = errors.New("chaos: scheduled fault not injected")
	// ErrChangeNotAttempted is returned when a scheduled membership change
	// has no outcome, or was skipped with no earlier change to explain it.
	ErrChangeNotAttempted = errors.New("chaos: scheduled membership change not attempted")
	// ErrChangeFailed is returned when a membership change ended with an
	// error that the faults do not explain.
	ErrChangeFailed = errors.New("chaos: membership change failed")
	// ErrStaleToken is returned by FencedResource.Write for a token lower
	// than the highest one seen.
	ErrStaleToken = errors.New("chaos: stale fencing token")
	// ErrLockViolation is returned when the lock's mutual exclusion or
	// fencing guarantee was broken.
	ErrLockViolation = errors.New("chaos: lock safety violated")
	// ErrLeaseViolation is returned when a lease expired while kept alive,
	// or expired too late after its holder died.
	ErrLeaseViolation = errors.New("chaos: lease safety violated")
	// ErrInvalidArgument is returned for unusable arguments (empty key set,
	// negative durations, unknown fault kinds).
	ErrInvalidArgument = errors.New("chaos: invalid argument")

	// ErrSetup is returned by the process tier when a member process,
	// proxy or port could not be set up.
	ErrSetup = errors.New("chaos: process setup failed")
	// ErrMemberDown is returned for a call to a member process that is not
	// running (killed and not restarted).
	ErrMemberDown = errors.New("chaos: member is down")
	// ErrControl is returned when a member's control API answered with an
	// error or an unreadable response.
	ErrControl = errors.New("chaos: control call failed")
	// ErrNoLeader is returned when no leader emerged before the deadline.
	ErrNoLeader = errors.New("chaos: no leader")
)
