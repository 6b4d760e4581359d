package chaos

import (
	"context"
	"errors"

	"github.com/keeldb/keel"
)

// Executor executes one operation and returns the client-visible output.
// The in-process tier executes against a keel.KV (KVExecutor); the process
// tier executes through a member's control API. An Executor must never
// retry a write inside one call.
type Executor interface {
	Exec(ctx context.Context, in Input) (Output, error)
}

// KVExecutor executes operations against a keel.KV with Exec.
type KVExecutor struct {
	// KV is the store operations run against.
	KV keel.KV
}

var _ Executor = KVExecutor{}

// Exec runs in against e.KV.
func (e KVExecutor) Exec(ctx context.Context, in Input) (Output, error) { return Exec(ctx, e.KV, in) }

// RemoteError is the error of an operation executed elsewhere (in a child
// process), which classified it there with Classify. Classify returns its
// Outcome as is, so a refusal that certainly had no effect stays Dropped
// and an ambiguous failure stays Unknown.
type RemoteError struct {
	// Outcome is the remote classification (Unknown or Dropped).
	Outcome Outcome
	// Msg is the remote error text.
	Msg string
}

// Error returns the remote error text with its outcome.
func (e *RemoteError) Error() string { return "chaos: remote " + e.Outcome.String() + ": " + e.Msg }

// remoteOutcome reports the outcome carried by a RemoteError in err.
func remoteOutcome(err error) (Outcome, bool) {
	var re *RemoteError
	if errors.As(err, &re) && re.Outcome != Definite {
		return re.Outcome, true
	}
	return 0, false
}
