package chaos

import (
	"context"
	"fmt"
	"time"
)

// Kinds returns the fault kinds the process tier injects.
func ProcessKinds() []FaultKind {
	return []FaultKind{KillMember, KillLeader, KillAll, Pause,
		PartitionLeader, PartitionMinority, OneWayLoss, Flap, Restart}
}

// Nemesis injects scheduled faults into a Cluster, records them in a
// Recorder and counts only injections that really happened: a SIGKILL or
// SIGSTOP delivered to a running member, a clean restart completed, or
// proxies that dropped bytes during a partition. It is not safe for
// concurrent use: run one schedule at a time.
type Nemesis struct {
	c        *Cluster
	rec      *Recorder
	counters *FaultCounters
	// KilledAll is set once a kill-all fault killed every member.
	KilledAll bool
}

// NewNemesis returns a Nemesis for c recording into rec and counting into
// counters.
func NewNemesis(c *Cluster, rec *Recorder, counters *FaultCounters) *Nemesis {
	return &Nemesis{c: c, rec: rec, counters: counters}
}

// Run injects every fault of s at its time (from now), healing or
// restarting after each one's Duration. It stops early, healed, when ctx
// ends. An error means the cluster could not be restored (a member did not
// restart).
func (n *Nemesis) Run(ctx context.Context, s Schedule) error {
	start := time.Now()
	for _, f := range s.Faults {
		if !sleepCtx(ctx, time.Until(start.Add(f.At))) {
			return nil
		}
		if err := n.Inject(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// Inject applies one fault, waits its Duration and undoes it.
func (n *Nemesis) Inject(ctx context.Context, f Fault) error {
	c := n.c
	for _, t := range f.Targets {
		if err := c.check(t); err != nil {
			return err
		}
	}
	switch f.Kind {
	case KillMember, KillLeader:
		t, ok := n.target(ctx, f)
		if !ok {
			return nil // no leader to kill: not counted, CheckInjected reports it
		}
		end := n.rec.BeginFault(f.Kind, fmt.Sprintf("pid %d", c.Pid(t)), c.ID(t))
		if c.Kill(t) {
			n.counters.Inc(f.Kind)
		}
		end()
		sleepCtx(ctx, f.Duration)
		return c.Start(context.WithoutCancel(ctx), t)
	case KillAll:
		end := n.rec.BeginFault(f.Kind, "", c.ids...)
		killed := 0
		for i := range c.ids {
			c.Resume(i) // a paused member must die too
			if c.Kill(i) {
				killed++
			}
		}
		end()
		if killed == len(c.ids) {
			n.counters.Inc(f.Kind)
			n.KilledAll = true
		}
		sleepCtx(ctx, f.Duration)
		return n.startDown(ctx)
	case Restart:
		t := f.Targets[0]
		end := n.rec.BeginFault(f.Kind, "", c.ID(t))
		clean := c.Stop(t)
		sleepCtx(ctx, f.Duration)
		err := c.Start(context.WithoutCancel(ctx), t)
		end()
		if clean && err == nil {
			n.counters.Inc(f.Kind)
		}
		return err
	case Pause:
		t := f.Targets[0]
		end := n.rec.BeginFault(f.Kind, "", c.ID(t))
		if c.Pause(t) {
			n.counters.Inc(f.Kind)
		}
		sleepCtx(ctx, f.Duration)
		c.Resume(t)
		end()
		return nil
	case PartitionLeader, PartitionMinority:
		group := f.Targets
		if f.Kind == PartitionLeader {
			t, ok := n.target(ctx, f)
			if !ok {
				return nil
			}
			group = []int{t}
		}
		return n.partition(ctx, f, func() error { return c.net.Isolate(group...) }, n.names(group))
	case OneWayLoss:
		// Two followers exchange no traffic, so a loss between them could
		// not bite: when neither end leads, the loss goes to the leader.
		from, to := f.Targets[0], f.Targets[1]
		if l := c.CurrentLeader(ctx); l >= 0 && l != from && l != to {
			to = l
		}
		return n.partition(ctx, f, func() error { return c.net.DropOneWay(from, to) }, n.names([]int{from, to}))
	case Flap:
		t := f.Targets[0]
		before := c.net.Dropped()
		end := n.rec.BeginFault(f.Kind, "", c.ID(t))
		deadline := time.Now().Add(f.Duration)
		for on := true; time.Now().Before(deadline) && ctx.Err() == nil; on = !on {
			if on {
				if err := c.net.Isolate(t); err != nil {
					return err
				}
			} else {
				c.net.Heal()
			}
			sleepCtx(ctx, min(200*time.Millisecond, time.Until(deadline)))
		}
		c.net.Heal()
		end()
		if c.net.Dropped() > before {
			n.counters.Inc(f.Kind)
		}
		return nil
	}
	return fmt.Errorf("%w: fault kind %q", ErrInvalidArgument, f.Kind)
}

func (n *Nemesis) partition(ctx context.Context, f Fault, apply func() error, targets []string) error {
	before := n.c.net.Dropped()
	end := n.rec.BeginFault(f.Kind, "", targets...)
	if err := apply(); err != nil {
		return err
	}
	sleepCtx(ctx, f.Duration)
	n.c.net.Heal()
	end()
	if n.c.net.Dropped() > before {
		n.counters.Inc(f.Kind)
	}
	return nil
}

// target resolves a fault's member: the current leader for leader kinds
// (waiting up to 5s for one), else Targets[0].
func (n *Nemesis) target(ctx context.Context, f Fault) (int, bool) {
	if f.Kind != KillLeader && f.Kind != PartitionLeader {
		return f.Targets[0], true
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if l := n.c.CurrentLeader(ctx); l >= 0 {
			return l, true
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	return -1, false
}

func (n *Nemesis) names(idx []int) []string {
	out := make([]string, len(idx))
	for i, x := range idx {
		out[i] = n.c.ID(x)
	}
	return out
}

// startDown starts every member that is not running.
func (n *Nemesis) startDown(ctx context.Context) error {
	for i := range n.c.ids {
		if !n.c.Running(i) {
			if err := n.c.Start(context.WithoutCancel(ctx), i); err != nil {
				return err
			}
		}
	}
	return nil
}

// HealAll heals the network, resumes paused members and restarts dead
// ones.
func (n *Nemesis) HealAll(ctx context.Context) error {
	n.c.net.Heal()
	for i := range n.c.ids {
		n.c.Resume(i)
	}
	return n.startDown(ctx)
}

// sleepCtx sleeps d or until ctx ends; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
