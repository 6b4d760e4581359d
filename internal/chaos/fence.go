package chaos

import (
	"fmt"
	"sync"
)

// FencedResource is an in-harness resource guarded by a lock's fencing
// token (the lock key's create revision, which increases with every grant).
// It accepts a write only with a token at least as high as the highest it
// has seen, and watches the critical section: two holders inside at once is
// expected under pauses (locks cannot give mutual exclusion in an
// asynchronous network) as long as the newcomer's token is strictly higher;
// a newcomer whose token is the same as or lower than a current holder's is
// a violation (two grants of one token, or a grant out of order).
//
// The zero value is ready to use. It is safe for concurrent use.
type FencedResource struct {
	mu         sync.Mutex
	highest    int64
	inside     map[string]int64 // holder -> token
	stats      FenceStats
	violations []string
}

// FenceStats are a FencedResource's counters.
type FenceStats struct {
	// Accepted counts writes accepted.
	Accepted int `json:"accepted"`
	// RejectedStale counts writes rejected for a stale token.
	RejectedStale int `json:"rejected_stale"`
	// Entries counts critical-section entries.
	Entries int `json:"entries"`
	// Overlaps counts entries while another holder was inside (with a
	// lower token: allowed, but shows the pauses had teeth).
	Overlaps int `json:"overlaps"`
	// Violations counts entries with a token not above a current holder's.
	Violations int `json:"violations"`
}

// Enter records that holder entered the critical section with token.
// It returns an error wrapping ErrLockViolation if another holder is inside
// with the same or a higher token.
func (r *FencedResource) Enter(holder string, token int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inside == nil {
		r.inside = map[string]int64{}
	}
	r.stats.Entries++
	var err error
	overlap := false
	for h, t := range r.inside {
		if h == holder {
			continue
		}
		overlap = true
		if t >= token {
			msg := fmt.Sprintf("%s entered with token %d while %s holds token %d", holder, token, h, t)
			r.violations = append(r.violations, msg)
			r.stats.Violations++
			err = fmt.Errorf("%w: %s", ErrLockViolation, msg)
		}
	}
	if overlap {
		r.stats.Overlaps++
	}
	r.inside[holder] = token
	return err
}

// Exit records that holder left the critical section.
func (r *FencedResource) Exit(holder string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inside, holder)
}

// Write applies a write fenced by token: accepted if token is at least the
// highest seen (which it then becomes), otherwise rejected with an error
// wrapping ErrStaleToken.
func (r *FencedResource) Write(token int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if token < r.highest {
		r.stats.RejectedStale++
		return fmt.Errorf("%w: token %d, highest seen %d", ErrStaleToken, token, r.highest)
	}
	r.highest = token
	r.stats.Accepted++
	return nil
}

// Stats returns the counters.
func (r *FencedResource) Stats() FenceStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Check returns an error wrapping ErrLockViolation listing every violation
// seen by Enter, or nil.
func (r *FencedResource) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) > 0 {
		return fmt.Errorf("%w: %d: %v", ErrLockViolation, len(r.violations), r.violations)
	}
	return nil
}
