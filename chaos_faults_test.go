package keel_test

import (
	"fmt"
	"math/rand"
	"slices"
	"syscall"
	"time"

	"github.com/keeldb/keel/internal/chaos"
	"github.com/keeldb/keel/internal/faultfs"
)

// inject applies one fault and returns how to heal it; it runs on the
// test's goroutine. A fault's Targets index the members a fault may pick
// now (faultTargets: running, no change acting on them), modulo their
// number: with the first three members and no change, target i is member
// i. It holds life while it picks and injects, so that no change picks,
// crashes or forgets a member meanwhile.
func (c *chaosCluster) inject(f chaos.Fault, rng *rand.Rand) (heal func(), ok bool) {
	c.life.Lock()
	defer c.life.Unlock()
	cands := c.faultTargets()
	if len(cands) == 0 {
		return nil, false
	}
	all := len(c.Members()) // positions, for links to every other one
	pick := func(k int) int { return cands[k%len(cands)] }
	target := func() int {
		if len(f.Targets) > 0 {
			return pick(f.Targets[0])
		}
		return cands[rng.Intn(len(cands))]
	}
	switch f.Kind {
	case chaos.PartitionLeader:
		c.Isolate(c.leaderOr(target))
		return c.HealAll, true
	case chaos.PartitionMinority:
		for _, t := range f.Targets {
			c.Isolate(pick(t))
		}
		if len(f.Targets) == 0 {
			c.Isolate(target())
		}
		return c.HealAll, true
	case chaos.OneWayLoss:
		a, b := pick(f.Targets[0]), pick(f.Targets[1])
		if a == b { // fewer candidates than the schedule's members
			b = cands[(slices.Index(cands, a)+1)%len(cands)]
		}
		c.Lose(a, b)
		return c.HealAll, true
	case chaos.Delay:
		t := target()
		for j := range all {
			if j != t {
				c.Delay(t, j, 20*time.Millisecond)
				c.Delay(j, t, 20*time.Millisecond)
			}
		}
		return c.HealAll, true
	case chaos.Flap:
		t := target()
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for cut := true; ; cut = !cut {
				if cut {
					c.Isolate(t)
				} else {
					c.HealAll()
				}
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(50+rng.Intn(150)) * time.Millisecond):
				}
			}
		}()
		return func() { close(stop); <-done; c.HealAll() }, true
	case chaos.KillMember, chaos.KillLeader, chaos.CrashLoseUnsynced, chaos.Restart, chaos.FsyncFail:
		t := target()
		if f.Kind == chaos.KillLeader {
			t = c.leaderOr(target)
		}
		if c.Member(t) == nil {
			return nil, false
		}
		c.hold(t)
		switch f.Kind {
		case chaos.Restart:
			c.Stop(t)
		case chaos.FsyncFail:
			c.record(t).fs.Inject(faultfs.Fault{Op: faultfs.OpSync, Err: syscall.EIO})
		default:
			c.kill(t, f.Kind == chaos.CrashLoseUnsynced)
		}
		return func() {
			if f.Kind == chaos.FsyncFail {
				// The member fail-stops on its own; if it has not yet
				// (no write reached it), stop it now as the fault's end.
				c.life.Lock()
				c.kill(t, true)
				c.life.Unlock()
			}
			c.release(t)
		}, true
	case chaos.KillAll:
		killed := cands // all but a member a change acts on
		for _, i := range killed {
			c.hold(i)
			c.kill(i, true)
		}
		return func() {
			for _, i := range killed {
				c.release(i)
			}
		}, true
	case chaos.SlowFsync:
		fs := c.record(target()).fs
		fs.SetSyncDelay(5 * time.Millisecond)
		return func() { fs.SetSyncDelay(0) }, true
	}
	return nil, false
}

// runFaults injects sched's faults at their times and heals each after
// its duration, on the test's goroutine, serving the changes' restarts
// while it waits. It counts the injected faults.
func (c *chaosCluster) runFaults(sched chaos.Schedule, start time.Time, rng *rand.Rand, rec *chaos.Recorder, counters *chaos.FaultCounters) {
	for _, f := range sched.Faults {
		c.sleep(time.Until(start.Add(f.At)))
		c.faultBegan(f.Kind) // a change that starts while it is injected runs under it
		heal, ok := c.inject(f, rng)
		if !ok {
			c.faultEnded(f.Kind)
			c.tb.Logf("chaos: %s could not be injected now (no target)", f.Kind)
			continue
		}
		counters.Inc(f.Kind)
		end := rec.BeginFault(f.Kind, fmt.Sprint(f.Targets))
		c.sleep(f.Duration)
		heal()
		end()
		c.faultEnded(f.Kind)
	}
}
