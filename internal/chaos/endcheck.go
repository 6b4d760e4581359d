package chaos

import (
	"fmt"
	"sort"
	"sync"
)

// CheckAckedWrites checks that every acknowledged write is visible or
// superseded in final, the state read after the run (for example after a
// whole-cluster kill and restart): key -> value, a missing key meaning
// absent. For each key with an acknowledged write (a definite Put, or a
// definite CAS with OK), the final state must be that write's value, or come
// from a write that may have been linearized after it: a Put/CAS (acked or
// unknown) or, for an absent key, a Delete (acked with OK, or unknown) that
// did not return before the acknowledged write was called. Values are
// matched by uniqueness. It returns an error wrapping ErrLostWrite listing
// the lost writes.
func CheckAckedWrites(ops []Operation, final map[string]string) error {
	type write struct {
		op    Operation
		value string
		del   bool
	}
	byKey := map[string][]write{}
	for _, op := range ops {
		in, out := op.Input, op.Output
		switch {
		case in.Kind == OpPut, in.Kind == OpCAS && (out.OK || out.Unknown):
			byKey[in.Key] = append(byKey[in.Key], write{op: op, value: in.Value})
		case in.Kind == OpDelete && (out.OK || out.Unknown):
			byKey[in.Key] = append(byKey[in.Key], write{op: op, del: true})
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lost []string
	for _, k := range keys {
		fv, present := final[k]
		// The writes that could have produced the final state.
		var producers []Operation
		for _, w := range byKey[k] {
			if (present && !w.del && w.value == fv) || (!present && w.del) {
				producers = append(producers, w.op)
			}
		}
		if present && len(producers) == 0 {
			lost = append(lost, fmt.Sprintf("key %q holds %q, which no recorded write wrote", k, fv))
			continue
		}
		for _, w := range byKey[k] {
			if w.del || w.op.Output.Unknown {
				continue // only acknowledged puts and CASes are checked
			}
			ok := false
			for _, p := range producers {
				if p == w.op || p.Return >= w.op.Call {
					ok = true
					break
				}
			}
			if !ok {
				state := "absent"
				if present {
					state = fmt.Sprintf("%q", fv)
				}
				lost = append(lost, fmt.Sprintf("key %q: acked write %q [%d,%d] neither visible nor superseded (final %s)",
					k, w.value, w.op.Call, w.op.Return, state))
			}
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("%w: %d: %v", ErrLostWrite, len(lost), lost)
	}
	return nil
}

// MemberHash is one member's state hash at a revision, as reported at the
// end of a run.
type MemberHash struct {
	Member   string `json:"member"`
	Hash     uint64 `json:"hash"`
	Revision int64  `json:"revision"`
}

// CheckHashes checks that every member reports the same revision and the
// same hash; it returns an error wrapping ErrHashMismatch otherwise, or
// ErrInvalidArgument for an empty list.
func CheckHashes(hs []MemberHash) error {
	if len(hs) == 0 {
		return fmt.Errorf("%w: no member hashes", ErrInvalidArgument)
	}
	for _, h := range hs[1:] {
		if h.Revision != hs[0].Revision || h.Hash != hs[0].Hash {
			return fmt.Errorf("%w: %+v", ErrHashMismatch, hs)
		}
	}
	return nil
}

// CheckFloor checks that a run completed at least floor operations (the
// load was real); it returns an error wrapping ErrTooFewOps otherwise.
func CheckFloor(c Counts, floor int) error {
	if c.Completed < floor {
		return fmt.Errorf("%w: %d completed (%d unknown, %d failed), floor %d", ErrTooFewOps, c.Completed, c.Unknown, c.Failed, floor)
	}
	return nil
}

// FaultCounters counts injected faults per kind. The harness increments a
// counter where it actually injects (a dropped message, a delivered
// signal, a failed fsync); CheckInjected compares them with the schedule.
// The zero value is ready to use; it is safe for concurrent use.
type FaultCounters struct {
	mu sync.Mutex
	m  map[FaultKind]int
}

// Inc adds one injection of kind.
func (c *FaultCounters) Inc(kind FaultKind) { c.Add(kind, 1) }

// Add adds n injections of kind.
func (c *FaultCounters) Add(kind FaultKind, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[FaultKind]int{}
	}
	c.m[kind] += n
}

// Count returns the injections of kind.
func (c *FaultCounters) Count(kind FaultKind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[kind]
}

// Snapshot returns a copy of all counters.
func (c *FaultCounters) Snapshot() map[FaultKind]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[FaultKind]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// CheckInjected fails (ErrFaultNotInjected) when some fault kind of s was
// injected fewer times than it was scheduled.
func CheckInjected(s Schedule, c *FaultCounters) error {
	want := map[FaultKind]int{}
	for _, f := range s.Faults {
		want[f.Kind]++
	}
	kinds := make([]string, 0, len(want))
	for k := range want {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	var missing []string
	for _, k := range kinds {
		if got := c.Count(FaultKind(k)); got < want[FaultKind(k)] {
			missing = append(missing, fmt.Sprintf("%s: scheduled %d, injected %d", k, want[FaultKind(k)], got))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %v", ErrFaultNotInjected, missing)
	}
	return nil
}
