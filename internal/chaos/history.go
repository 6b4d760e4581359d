package chaos

import (
	"errors"
	"math"
	"sync"
	"time"

	"github.com/keeldb/keel"
)

// OpKind is the kind of a recorded KV operation.
type OpKind string

// Operation kinds recorded by the workload.
const (
	// OpGet is a linearizable single-key Get.
	OpGet OpKind = "get"
	// OpPut is a single-key Put.
	OpPut OpKind = "put"
	// OpDelete is a single-key Delete.
	OpDelete OpKind = "delete"
	// OpCAS is a transaction If(Value(k) == Expected) (or
	// If(CreateRevision(k) == 0) when ExpectAbsent) Then(Put(k, Value)).
	OpCAS OpKind = "cas"
)

// isWrite reports whether k may change the store.
func (k OpKind) isWrite() bool { return k == OpPut || k == OpDelete || k == OpCAS }

// Input is what a client asked for.
type Input struct {
	Kind OpKind `json:"kind"`
	Key  string `json:"key"`
	// Value is the value written by Put and CAS.
	Value string `json:"value,omitempty"`
	// Expected is the value a CAS requires, unless ExpectAbsent.
	Expected string `json:"expected,omitempty"`
	// ExpectAbsent makes a CAS require that the key does not exist.
	ExpectAbsent bool `json:"expect_absent,omitempty"`
}

// Output is what the client observed. An Unknown output (a write whose
// outcome is unknown) is accepted by the model in any state.
type Output struct {
	Unknown bool `json:"unknown,omitempty"`
	// Found and Value are a Get's result.
	Found bool   `json:"found,omitempty"`
	Value string `json:"value,omitempty"`
	// OK is true when a CAS succeeded or a Delete deleted a key.
	OK bool `json:"ok,omitempty"`
	// Revision is the response header's revision (informational only; the
	// model does not check it).
	Revision int64 `json:"revision,omitempty"`
}

// Operation is one recorded operation. Call and Return are nanoseconds since
// the Recorder's base; an Unknown operation has Return = math.MaxInt64.
type Operation struct {
	ClientID int    `json:"client"`
	Input    Input  `json:"input"`
	Output   Output `json:"output"`
	Call     int64  `json:"call"`
	Return   int64  `json:"return"`
}

// Outcome is how an operation's result is recorded.
type Outcome int

const (
	// Definite means the operation completed and its output is known.
	Definite Outcome = iota
	// Unknown means a write may or may not have taken effect; it is
	// recorded with Return = math.MaxInt64 and an Unknown output.
	Unknown
	// Dropped means the operation certainly had no effect (a failed read,
	// or a write refused before it was proposed); it is not recorded.
	Dropped
)

// String returns "definite", "unknown" or "dropped".
func (o Outcome) String() string {
	switch o {
	case Definite:
		return "definite"
	case Unknown:
		return "unknown"
	}
	return "dropped"
}

// definiteFailures are errors that mean a write was never proposed, so it
// had no effect. They count only when the error does not also wrap
// keel.ErrTimeout.
var definiteFailures = [...]error{
	keel.ErrNoLeader, keel.ErrNotLeader, keel.ErrStopped,
	keel.ErrEmptyKey, keel.ErrKeyNotFound, keel.ErrValueProvided, keel.ErrLeaseProvided,
	keel.ErrLeaseNotFound, keel.ErrTooManyOps, keel.ErrDuplicateKey, keel.ErrRequestTooLarge,
	keel.ErrInvalidOption, keel.ErrInvalidTxn,
}

// Classify maps the error of an operation of kind k to its Outcome:
//
//   - nil: Definite (a CAS whose compare failed is a definite response);
//   - any error on a Get: Dropped (reads have no effect);
//   - an error wrapping keel.ErrTimeout (including "ErrTimeout: ErrStopped"):
//     Unknown;
//   - keel.ErrNoLeader, ErrNotLeader, ErrStopped (ErrRemoved too: it wraps
//     ErrStopped) or a validation error, none of them wrapping ErrTimeout:
//     Dropped (never proposed);
//   - a *RemoteError on a write: its Outcome (classified where it ran);
//   - any other error on a write: Unknown (conservative: an unclassified
//     failure may have been applied).
func Classify(k OpKind, err error) Outcome {
	switch {
	case err == nil:
		return Definite
	case !k.isWrite():
		return Dropped
	case errors.Is(err, keel.ErrTimeout):
		return Unknown
	}
	if oc, ok := remoteOutcome(err); ok {
		return oc
	}
	for _, d := range definiteFailures {
		if errors.Is(err, d) {
			return Dropped
		}
	}
	return Unknown
}

// Recorder records operations and fault events against one monotonic time
// base. It is safe for concurrent use.
type Recorder struct {
	base time.Time

	mu     sync.Mutex
	ops    []Operation
	faults []FaultEvent
	// completed counts the Definite operations Record recorded.
	completed int
}

// NewRecorder returns a Recorder whose time base is now.
func NewRecorder() *Recorder { return &Recorder{base: time.Now()} }

// Now returns the nanoseconds elapsed since the Recorder's base, read from
// the monotonic clock.
func (r *Recorder) Now() int64 { return int64(time.Since(r.base)) }

// Record classifies err (see Classify) and records the operation that was
// called at call (a value of Now taken just before the request was sent).
// A Definite operation gets Return = Now() and the output out; an Unknown
// one gets Return = math.MaxInt64 and an Unknown output; a Dropped one is
// not recorded. It returns the outcome.
func (r *Recorder) Record(client int, in Input, call int64, out Output, err error) Outcome {
	oc := Classify(in.Kind, err)
	op := Operation{ClientID: client, Input: in, Call: call}
	switch oc {
	case Dropped:
		return oc
	case Unknown:
		op.Output, op.Return = Output{Unknown: true}, math.MaxInt64
	default:
		op.Output, op.Return = out, r.Now()
	}
	r.mu.Lock()
	r.ops = append(r.ops, op)
	if oc == Definite {
		r.completed++
	}
	r.mu.Unlock()
	return oc
}

// Completed returns how many operations Record has recorded with a
// definite outcome so far.
func (r *Recorder) Completed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.completed
}

// Add records an already built operation as is (for replaying or merging
// histories).
func (r *Recorder) Add(op Operation) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Operations returns a copy of the recorded operations.
func (r *Recorder) Operations() []Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Operation(nil), r.ops...)
}

// FaultEvent is one injected fault, in the Recorder's time base, shown as an
// annotation in the HTML visualization.
type FaultEvent struct {
	Kind    FaultKind `json:"kind"`
	Targets []string  `json:"targets,omitempty"`
	Start   int64     `json:"start"`
	End     int64     `json:"end"`
	Detail  string    `json:"detail,omitempty"`
	// Lane is the HTML visualization's lane for the event; "" means
	// "faults" (membership changes use "membership").
	Lane string `json:"lane,omitempty"`
}

// Fault records a fault event. Use Start = End for an instantaneous fault
// (a kill).
func (r *Recorder) Fault(ev FaultEvent) {
	ev.Targets = append([]string(nil), ev.Targets...)
	r.mu.Lock()
	r.faults = append(r.faults, ev)
	r.mu.Unlock()
}

// BeginFault records the start of a fault now and returns a function that
// records its end (call it when the fault heals; later calls do nothing).
func (r *Recorder) BeginFault(kind FaultKind, detail string, targets ...string) (end func()) {
	start := r.Now()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.Fault(FaultEvent{Kind: kind, Targets: targets, Start: start, End: r.Now(), Detail: detail})
		})
	}
}

// Faults returns a copy of the recorded fault events.
func (r *Recorder) Faults() []FaultEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]FaultEvent(nil), r.faults...)
}
