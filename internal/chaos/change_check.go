package chaos

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/keeldb/keel"
)

// ChangeOutcome is how a scheduled membership change ended.
type ChangeOutcome string

// Change outcomes.
const (
	// ChangeDone means the change was made.
	ChangeDone ChangeOutcome = "done"
	// ChangeRefused means the cluster refused the change, or the change
	// ran out of time, with an error the faults explain (see
	// ClassifyChange). The membership may differ from the plan after it.
	ChangeRefused ChangeOutcome = "refused"
	// ChangeSkipped means the change was not attempted because it would
	// have broken the membership bounds, or had no member to act on, as
	// the members were when it was due. CheckChanges accepts it only after
	// an earlier change that deviated from the plan.
	ChangeSkipped ChangeOutcome = "skipped"
	// ChangeFailed means the change ended with an unexpected error: the
	// run fails.
	ChangeFailed ChangeOutcome = "failed"
)

// changeRefusals are the errors any membership change may end with under
// faults: refusals the API documents (ErrUnhealthy: quorum would be lost;
// ErrChangeInProgress: another change, such as an automatic promotion, is
// being made), no leader within the deadline (ErrNoLeader, ErrNotLeader),
// and an outcome left unknown by a lost leader or the deadline
// (ErrTimeout).
var changeRefusals = []error{
	keel.ErrUnhealthy, keel.ErrChangeInProgress, keel.ErrNoLeader, keel.ErrNotLeader, keel.ErrTimeout,
}

// ClassifyChange returns the outcome of a change of kind k that ended with
// err: ChangeDone for nil; ChangeRefused for an error wrapping one of the
// refusals faults explain (keel.ErrUnhealthy, ErrChangeInProgress,
// ErrNoLeader, ErrNotLeader, ErrTimeout; for the kinds whose call is made
// on another member than the one changed, RemoveMember, RemoveCrashed and
// PromoteLearner, also ErrStopped: a fault killed that member mid-call;
// for PromoteLearner also ErrLearnerNotReady), or one of also (errors the
// caller knows to be explained, say ErrMemberNotFound after an earlier
// removal's outcome was unknown); ChangeFailed for anything else, such as
// ErrStopped from a joining member or one that leaves.
func ClassifyChange(k ChangeKind, err error, also ...error) ChangeOutcome {
	if err == nil {
		return ChangeDone
	}
	expected := append(changeRefusals[:len(changeRefusals):len(changeRefusals)], also...)
	switch k {
	case PromoteLearner:
		expected = append(expected, keel.ErrStopped, keel.ErrLearnerNotReady)
	case RemoveMember, RemoveCrashed:
		expected = append(expected, keel.ErrStopped)
	}
	for _, e := range expected {
		if errors.Is(err, e) {
			return ChangeRefused
		}
	}
	return ChangeFailed
}

// ChangeResult is what the executor of one scheduled change reports.
type ChangeResult struct {
	// Change is the change's index in Schedule.Changes.
	Change int        `json:"change"`
	Kind   ChangeKind `json:"kind"`
	// Target is the member the change acted on (its Name), if any; Via
	// the member the call was made on.
	Target string `json:"target,omitempty"`
	Via    string `json:"via,omitempty"`
	// Outcome is how it ended; Err the last error, if any.
	Outcome ChangeOutcome `json:"outcome"`
	Err     string        `json:"err,omitempty"`
	// Attempts counts the calls made (refusals are retried until the
	// change's deadline).
	Attempts int `json:"attempts,omitempty"`
	// AttemptErrs holds each failed call's error, in order.
	AttemptErrs []string `json:"attempt_errs,omitempty"`
	// Reported describes a known Keel issue the executor tolerated in a
	// change that was made: an error Keel returned though it made the
	// change, a member recorded twice (see the tier's executor).
	Reported string `json:"reported,omitempty"`
	// Deviation says how the membership differs from the plan after this
	// change, if it does: a refusal, a join not yet promoted. It explains
	// later skipped changes.
	Deviation string `json:"deviation,omitempty"`
	// Start and End are Recorder times; UnderFaults lists the faults
	// injected when the change started.
	Start       int64       `json:"start"`
	End         int64       `json:"end"`
	UnderFaults []FaultKind `json:"under_faults,omitempty"`
}

// ChangeLog collects the results of a run's changes. It is safe for
// concurrent use; the zero value is ready to use.
type ChangeLog struct {
	mu      sync.Mutex
	results []ChangeResult
}

// Add records r.
func (l *ChangeLog) Add(r ChangeResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, r)
}

// Results returns a copy of the results, in the order recorded.
func (l *ChangeLog) Results() []ChangeResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ChangeResult(nil), l.results...)
}

// ChangeCounts counts changes by kind and outcome, and how many started
// under faults.
type ChangeCounts struct {
	ByKind      map[ChangeKind]map[ChangeOutcome]int `json:"by_kind"`
	UnderFaults int                                  `json:"under_faults"`
	Total       int                                  `json:"total"`
	// Reported counts, by kind, the changes made with a known Keel issue
	// tolerated (ChangeResult.Reported).
	Reported map[ChangeKind]int `json:"reported,omitempty"`
}

// Count returns the counts of results.
func Count(results []ChangeResult) ChangeCounts {
	var c ChangeCounts
	for _, r := range results {
		c.add(r.Kind, r.Outcome, 1)
		if len(r.UnderFaults) > 0 {
			c.UnderFaults++
		}
		if r.Reported != "" {
			c.report(r.Kind, 1)
		}
	}
	return c
}

func (c *ChangeCounts) add(k ChangeKind, o ChangeOutcome, n int) {
	if c.ByKind == nil {
		c.ByKind = map[ChangeKind]map[ChangeOutcome]int{}
	}
	if c.ByKind[k] == nil {
		c.ByKind[k] = map[ChangeOutcome]int{}
	}
	c.ByKind[k][o] += n
	c.Total += n
}

func (c *ChangeCounts) report(k ChangeKind, n int) {
	if c.Reported == nil {
		c.Reported = map[ChangeKind]int{}
	}
	c.Reported[k] += n
}

// Add returns the sum of c and d.
func (c ChangeCounts) Add(d ChangeCounts) ChangeCounts {
	var out ChangeCounts
	for _, x := range []ChangeCounts{c, d} {
		for k, m := range x.ByKind {
			for o, n := range m {
				out.add(k, o, n)
			}
		}
		for k, n := range x.Reported {
			out.report(k, n)
		}
		out.UnderFaults += x.UnderFaults
	}
	return out
}

// String returns the counts for a log line, kinds in AllChangeKinds order:
// "12 (11 under faults): join done 3 refused 1, remove done 2 (1 with a
// known Keel issue), ...".
func (c ChangeCounts) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d (%d under faults)", c.Total, c.UnderFaults)
	sep := ": "
	for _, k := range AllChangeKinds() {
		m := c.ByKind[k]
		if len(m) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s%s", sep, k)
		sep = ", "
		for _, o := range []ChangeOutcome{ChangeDone, ChangeRefused, ChangeSkipped, ChangeFailed} {
			if m[o] > 0 {
				fmt.Fprintf(&b, " %s %d", o, m[o])
			}
			if o == ChangeDone && c.Reported[k] > 0 {
				fmt.Fprintf(&b, " (%d with a known Keel issue)", c.Reported[k])
			}
		}
	}
	return b.String()
}

// CheckChanges checks the results of s's changes: each scheduled change
// has exactly one result (else ErrChangeNotAttempted), none failed (else
// ErrChangeFailed), and each skipped one comes after a change that
// deviated from the plan (else ErrChangeNotAttempted).
func CheckChanges(s Schedule, results []ChangeResult) error {
	byIdx := make(map[int]ChangeResult, len(results))
	var problems []string
	for _, r := range results {
		if r.Change < 0 || r.Change >= len(s.Changes) {
			problems = append(problems, fmt.Sprintf("result for unscheduled change %d", r.Change))
			continue
		}
		if _, dup := byIdx[r.Change]; dup {
			problems = append(problems, fmt.Sprintf("change %d reported twice", r.Change))
		}
		byIdx[r.Change] = r
	}
	var failed []string
	deviated := ""
	for i, c := range s.Changes {
		r, ok := byIdx[i]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("change %d (%s) has no outcome", i, c.Kind))
		case r.Kind != c.Kind:
			problems = append(problems, fmt.Sprintf("change %d: scheduled %s, reported %s", i, c.Kind, r.Kind))
		case r.Outcome == ChangeFailed:
			failed = append(failed, fmt.Sprintf("change %d (%s %s via %s): %s (attempts: %q)", i, c.Kind, r.Target, r.Via, r.Err, r.AttemptErrs))
		case r.Outcome == ChangeSkipped && deviated == "":
			problems = append(problems, fmt.Sprintf("change %d (%s) skipped (%s) though every earlier change went as planned", i, c.Kind, r.Err))
		case r.Outcome != ChangeDone && r.Outcome != ChangeRefused && r.Outcome != ChangeSkipped:
			problems = append(problems, fmt.Sprintf("change %d (%s): unknown outcome %q", i, c.Kind, r.Outcome))
		}
		if ok && r.Deviation != "" && deviated == "" {
			deviated = fmt.Sprintf("change %d: %s", i, r.Deviation)
		}
	}
	sort.Strings(problems)
	if len(failed) > 0 {
		return fmt.Errorf("%w: %v", ErrChangeFailed, append(failed, problems...))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %v", ErrChangeNotAttempted, problems)
	}
	return nil
}
