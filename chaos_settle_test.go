package keel_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keeldb/keel"
)

// errChaosMembership marks a membership that contradicts the changes made: a
// member gone from the list though no change removed it, a removed one
// still listed, a permanent learner that votes unpromoted. settle fails
// at once on it instead of waiting.
var errChaosMembership = errors.New("membership contradicts the changes")

// restartAll restarts every member that is down (on the test's
// goroutine, once the faults and changes have ended).
func (c *chaosCluster) restartAll() {
	for _, i := range c.active() {
		c.restart(i)
	}
}

// settle brings the membership to rest once the faults and changes have
// ended and every member runs again: it forgets the members a change with
// an unknown outcome removed (they stop by themselves), removes the
// phantoms of failed joins from the cluster, and waits for the joined
// members' promotion. It returns nil once the leader's member list is the
// record's: every running member, voters and learners as made; an error
// wrapping errChaosMembership as soon as the list contradicts the changes; or
// what still differs after limit.
func (c *chaosCluster) settle(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		c.sweepRemoved()
		err := c.compareMembers(ctx)
		if err == nil || errors.Is(err, errChaosMembership) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the membership did not settle within %v: %w", limit, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// compareMembers compares the leader's linearizable member list with the
// record, removing the phantoms it lists and, unless chaosStrict, the
// members it lists under another ID than theirs (see duplicate).
func (c *chaosCluster) compareMembers(ctx context.Context) error {
	l := c.leader()
	if l < 0 {
		return errors.New("no leader")
	}
	s := c.Member(l)
	if s == nil {
		return errors.New("the leader stopped")
	}
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ml, err := s.MemberList(lctx)
	if err != nil {
		return fmt.Errorf("member list: %w", err)
	}
	listed := map[string]*keel.Member{}
	for _, lm := range ml.Members {
		listed[lm.Name] = lm
	}
	var waiting, broken []string
	for i := range c.Members() {
		m := c.record(i)
		c.mu.Lock()
		st, learner, maybeRemoved, maybePromoted, dup := m.state, m.learner, m.maybeRemoved, m.maybePromoted, m.dup
		c.mu.Unlock()
		lm := listed[m.name]
		delete(listed, m.name)
		if st == chaosActive && lm == nil && dup != 0 {
			c.forget(i) // recorded twice, and removed through the ID listed (duplicate)
			continue
		}
		if st == chaosActive && lm != nil && lm.ID != m.id {
			msg, err := c.duplicate(ctx, i, lm.ID)
			if chaosStrict {
				broken = append(broken, msg)
			} else {
				waiting = append(waiting, fmt.Sprintf("%s; removing it: %v", msg, err))
			}
			continue
		}
		switch {
		case st == chaosPhantom && lm != nil:
			_, err := s.MemberRemove(lctx, lm.ID)
			waiting = append(waiting, fmt.Sprintf("%s (a failed join) listed; removing it: %v", m.name, err))
		case st == chaosPhantom:
			c.mu.Lock()
			m.state = chaosGone
			c.mu.Unlock()
		case st == chaosGone && lm != nil:
			broken = append(broken, fmt.Sprintf("%s was removed but is listed", m.name))
		case st == chaosGone:
		case lm == nil && maybeRemoved:
			waiting = append(waiting, fmt.Sprintf("%s is not listed (an unknown outcome removed it); waiting for it to stop", m.name))
		case lm == nil:
			broken = append(broken, fmt.Sprintf("%s is not listed, though no change removed it", m.name))
		case !c.running(i):
			waiting = append(waiting, fmt.Sprintf("%s does not run (Err %v)", m.name, chaosErrOf(c.Member(i))))
		case learner && !maybePromoted && !lm.IsLearner:
			broken = append(broken, fmt.Sprintf("%s, a permanent learner, votes though it was not promoted", m.name))
		case !learner && lm.IsLearner:
			waiting = append(waiting, fmt.Sprintf("%s is not promoted yet", m.name))
		}
	}
	for name := range listed {
		broken = append(broken, fmt.Sprintf("%s is listed but was never a member", name))
	}
	sort.Strings(broken)
	switch {
	case len(broken) > 0:
		return fmt.Errorf("%w: %s (list %s)", errChaosMembership, strings.Join(broken, "; "), chaosMemberList(ml.Members))
	case len(waiting) > 0:
		return fmt.Errorf("%s (list %s)", strings.Join(waiting, "; "), chaosMemberList(ml.Members))
	}
	return nil
}

// chaosErrOf returns s.Err(), or keel.ErrStopped for a member that is down.
func chaosErrOf(s *keel.Store) error {
	if s == nil {
		return keel.ErrStopped
	}
	return s.Err()
}

// chaosMemberList lists ms as "m0 m1 m3(learner)".
func chaosMemberList(ms []*keel.Member) string {
	var out []string
	for _, m := range ms {
		n := m.Name
		if m.IsLearner {
			n += "(learner)"
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// checkMemberViews checks that every running member lists the same
// members (serializable: its own view, which must have converged).
func (c *chaosCluster) checkMemberViews(ctx context.Context) error {
	var first, firstName string
	for _, i := range c.up() {
		s := c.Member(i)
		ml, err := s.MemberList(ctx, keel.WithSerializable())
		if err != nil {
			return fmt.Errorf("member %s: member list: %w", s.ID(), err)
		}
		names := chaosMemberList(ml.Members)
		if firstName == "" {
			first, firstName = names, s.ID()
			continue
		}
		if names != first {
			return fmt.Errorf("%w: %s lists %s, %s lists %s", errChaosMembership, firstName, first, s.ID(), names)
		}
	}
	return nil
}
