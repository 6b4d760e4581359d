package keel_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/chaos"
)

// Membership changes in the in-process tier. They run one at a time on
// their own goroutine (runChanges), each at its scheduled time, while the
// faults run on the test's goroutine. Each change picks its member from
// the harness's record as the members are when it is due, marks it busy
// (no fault picks it meanwhile: a fault may still kill the member a call
// is made on, or a removal's target once it is down), retries refusals
// until its deadline, and reports one result. The bounds: removals keep
// chaosMinVoters voters the harness knows to vote, joins at most
// chaosMaxMembers members; a change that cannot keep them because an
// earlier one deviated from the plan is skipped.
const (
	chaosMinVoters  = 3
	chaosMaxMembers = 5
	// chaosChangeLimit bounds each change: its retries, a join's Open.
	chaosChangeLimit = 4 * time.Second
	// chaosPromoteWait bounds the wait for a joined member's promotion.
	chaosPromoteWait = 5 * time.Second
)

// runChanges makes sched's changes at their times, records each in log
// and rec (on the "membership" lane), and returns when all have ended.
func (c *chaosCluster) runChanges(ctx context.Context, sched chaos.Schedule, start time.Time, rng *rand.Rand,
	rec *chaos.Recorder, log *chaos.ChangeLog) {
	for i, ch := range sched.Changes {
		time.Sleep(time.Until(start.Add(ch.At))) // the schedule's time, not a synchronisation
		c.sweepRemoved()
		r := chaos.ChangeResult{Change: i, Kind: ch.Kind, Start: rec.Now(), UnderFaults: c.injectedNow()}
		c.change(ctx, sched, i, rng, &r)
		r.End = rec.Now()
		log.Add(r)
		detail := string(r.Outcome)
		if r.Err != "" {
			detail += ": " + r.Err
		}
		rec.Fault(chaos.FaultEvent{Kind: chaos.FaultKind(ch.Kind), Targets: []string{r.Target}, Start: r.Start, End: r.End,
			Detail: detail, Lane: "membership"})
	}
}

// change makes change i of sched and fills in r.
func (c *chaosCluster) change(ctx context.Context, sched chaos.Schedule, i int, rng *rand.Rand, r *chaos.ChangeResult) {
	ch := sched.Changes[i]
	skip := func(why string) {
		r.Outcome, r.Err, r.Deviation = chaos.ChangeSkipped, why, "skipped"
	}
	switch ch.Kind {
	case chaos.JoinVoter, chaos.JoinLearner:
		if n := len(c.positions(func(_ int, m *chaosMember) bool { return m.state != chaosGone })); n >= chaosMaxMembers {
			skip(fmt.Sprintf("%d members already", n))
			return
		}
		c.join(ctx, ch.Kind == chaos.JoinLearner, r)
	case chaos.PromoteLearner:
		cands := c.positions(func(_ int, m *chaosMember) bool {
			return m.state == chaosActive && m.learner && !m.busy && m.dup == 0
		})
		if len(cands) == 0 {
			skip("no learner to promote")
			return
		}
		c.promote(ctx, cands[ch.Target%len(cands)], ch, r)
	default:
		// Picked and marked busy under life: no fault picks it meanwhile.
		// While the bounds allow a target but none is in the state the
		// kind needs (a kill-all: nobody runs), wait for one; if the
		// faults hold them all until the deadline (a kill can take a
		// member's raft RPC timeout), the change is refused.
		deadline := time.Now().Add(chaosChangeLimit)
		for {
			c.life.Lock()
			t, bounded, why := c.removalTarget(sched, i)
			if t >= 0 {
				c.setBusy(t, true)
			}
			c.life.Unlock()
			switch {
			case t >= 0:
				c.remove(ctx, t, ch, rng, r)
				return
			case bounded:
				skip(why)
				return
			case time.Now().After(deadline):
				r.Outcome, r.Err, r.Deviation = chaos.ChangeRefused, why+" until the deadline: faults held them", "refused"
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// removalTarget picks the member change i (a removal) acts on, or
// returns -1 and why there is none, with bounded set if the membership
// bounds allow none (rather than none being up or down as needed now);
// the caller holds life. Voters are candidates only while more than
// chaosMinVoters are known; learners only beyond those that later
// promotions of the schedule need.
func (c *chaosCluster) removalTarget(sched chaos.Schedule, i int) (t int, bounded bool, why string) {
	ch := sched.Changes[i]
	c.refreshVoters()
	promotions := 0
	for _, later := range sched.Changes[i+1:] {
		if later.Kind == chaos.PromoteLearner {
			promotions++
		}
	}
	c.mu.Lock()
	voters, learners := 0, 0
	for _, m := range c.members {
		if m.state == chaosActive && m.voter {
			voters++
		}
		if m.state == chaosActive && m.learner {
			learners++
		}
	}
	c.mu.Unlock()
	var down, live []int
	allowed := c.positions(func(i int, m *chaosMember) bool {
		return m.state == chaosActive && !m.busy && m.dup == 0 &&
			(!m.voter || voters > chaosMinVoters) && (!m.learner || learners > promotions)
	})
	for _, p := range allowed {
		m, up := c.record(p), c.running(p)
		c.mu.Lock()
		held := m.held
		c.mu.Unlock()
		switch {
		case held && c.Member(p) == nil:
			down = append(down, p)
		case !held && up:
			live = append(live, p)
		}
	}
	cands := live
	if ch.Kind == chaos.RemoveCrashed && len(down) > 0 {
		cands = down // a member a fault killed: the dead machine an operator removes
	}
	if ch.Kind == chaos.RemoveMember && len(c.up()) < 2 {
		cands = nil // nobody to make the call on
	}
	if len(cands) == 0 {
		return -1, len(allowed) == 0, fmt.Sprintf("no member to remove (%d voters, %d learners, %d promotions to come; %d allowed, %d down, %d up)",
			voters, learners, promotions, len(allowed), len(down), len(live))
	}
	return cands[ch.Target%len(cands)], false, ""
}

// refreshVoters records the promotions of joined members that the
// leader's configuration shows (the automatic ones).
func (c *chaosCluster) refreshVoters() {
	l := c.leader()
	if l < 0 {
		return
	}
	s := c.Member(l)
	if s == nil {
		return
	}
	ml, err := s.MemberList(context.Background(), keel.WithSerializable())
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		for _, lm := range ml.Members {
			if m.state == chaosActive && !m.learner && lm.Name == m.name && !lm.IsLearner {
				m.voter = true
			}
		}
	}
}

// setBusy marks member i as acted on by a change, or no longer.
func (c *chaosCluster) setBusy(i int, busy bool) {
	c.mu.Lock()
	c.members[i].busy = busy
	c.mu.Unlock()
}

// caller returns a running member other than not to make a call on,
// chosen by via among them; it waits for one until ctx ends.
func (c *chaosCluster) caller(ctx context.Context, via, not int) (int, *keel.Store, error) {
	for {
		var cands []int
		for _, i := range c.up() {
			if i != not && c.running(i) {
				cands = append(cands, i)
			}
		}
		if len(cands) > 0 {
			i := cands[via%len(cands)]
			if s := c.Member(i); s != nil {
				return i, s, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, nil, fmt.Errorf("%w: no running member to call: %w", keel.ErrNoLeader, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// chaosAmbiguous reports whether a membership call that failed with err may
// still have made its change (or may yet: a new leader finishes a removal
// a previous one started).
func chaosAmbiguous(err error) bool {
	return errors.Is(err, keel.ErrTimeout) || errors.Is(err, keel.ErrNoLeader) || errors.Is(err, keel.ErrStopped)
}

// retryChaosChange calls f until it succeeds, fails with an error that
// is not an expected refusal of kind (ClassifyChange, with also), or the
// change's deadline passes; f gets the deadline's ctx and whether an
// earlier call's outcome was unknown. It adds each call's error to
// r.AttemptErrs (r may be nil). It returns the attempts, whether
// some call's outcome was unknown, and the last error.
func retryChaosChange(ctx context.Context, r *chaos.ChangeResult, kind chaos.ChangeKind, f func(ctx context.Context, unsure bool) error, also ...error) (n int, unsure bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, chaosChangeLimit)
	defer cancel()
	for n = 1; ; n++ {
		err = f(ctx, unsure)
		if err != nil && r != nil {
			r.AttemptErrs = append(r.AttemptErrs, err.Error())
		}
		if err == nil || chaos.ClassifyChange(kind, err, also...) != chaos.ChangeRefused {
			return n, unsure, err
		}
		unsure = unsure || chaosAmbiguous(err)
		select {
		case <-ctx.Done():
			return n, unsure, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// chaosFinish fills in r's outcome from err (a change made through attempts
// calls) and records what a refusal leaves the membership like.
func chaosFinish(r *chaos.ChangeResult, attempts int, err error, also ...error) {
	r.Attempts, r.Outcome = attempts, chaos.ClassifyChange(r.Kind, err, also...)
	if err != nil {
		r.Err = err.Error()
	}
	if r.Outcome != chaos.ChangeDone {
		r.Deviation = string(r.Outcome)
	}
}

// forget takes member i out of the cluster's record and keeltest's: it
// left or was removed.
func (c *chaosCluster) forget(i int) {
	c.life.Lock()
	defer c.life.Unlock()
	c.Forget(i)
	c.mu.Lock()
	m := c.members[i]
	m.state, m.busy, m.restart = chaosGone, false, false
	c.mu.Unlock()
}

// sweepRemoved forgets the members that stopped because they were
// removed, by a change whose outcome was unknown. One that no change may
// have removed is an anomaly. Members recorded twice are settle's.
func (c *chaosCluster) sweepRemoved() {
	for _, i := range c.positions(func(i int, m *chaosMember) bool { return m.state == chaosActive && !m.busy && m.dup == 0 }) {
		s := c.Member(i)
		if s == nil || !errors.Is(s.Err(), keel.ErrRemoved) {
			continue
		}
		m := c.record(i)
		c.mu.Lock()
		explained := m.maybeRemoved
		c.mu.Unlock()
		if !explained {
			c.anomaly("member %s stopped as removed, but no change removed it", m.name)
		}
		c.forget(i)
	}
}
