package chaos_test

import (
	"context"
	"fmt"
	"math/rand"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/chaos"
)

// leaseAllowance is added to the TTL for expiry after the holder died: the
// worst failover in a run (a kill-all of up to 1.5s, restarts, an
// election, and a new leader restarting every lease's TTL).
const leaseAllowance = 8 * time.Second

// leaseWorker grants leases with a key attached, keeps each alive for a
// random while through rotating members, then stops (the holder "dies")
// and polls until the key is gone, reporting everything to lc in rec's
// time base. It stops granting when stop is closed and returns the number
// of leases tracked.
func leaseWorker(ctx context.Context, c *chaos.Cluster, rec *chaos.Recorder, lc *chaos.LeaseChecker,
	rng *rand.Rand, prefix string, stop <-chan struct{}) int {
	tracked := 0
	member := 0
	next := func() int { member = (member + 1) % c.Size(); return member }
	call := func(f func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return f(cctx)
	}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return tracked
		default:
		}
		at := rec.Now()
		var g chaos.LeaseResponse
		m := next()
		if err := call(func(ctx context.Context) (err error) { g, err = c.LeaseGrant(ctx, m, 1); return err }); err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		id := keel.LeaseID(g.ID)
		key := fmt.Sprintf("%slease/%d", prefix, n)
		if err := call(func(ctx context.Context) error { return c.LeasePut(ctx, m, g.ID, key, "held") }); err != nil {
			// The key may or may not exist: do not judge this lease.
			continue
		}
		lc.Granted(id, time.Duration(g.TTL)*time.Second, at)
		tracked++
		hold := time.Duration(500+rng.Intn(2000)) * time.Millisecond
		end := time.Now().Add(hold)
		gone := false
		for time.Now().Before(end) && !gone {
			sent := rec.Now()
			err := call(func(ctx context.Context) error { _, err := c.LeaseKeepAlive(ctx, next(), g.ID); return err })
			if err == nil {
				lc.KeepaliveAcked(id, sent)
			}
			gone = observeGone(ctx, c, rec, lc, id, key, next())
			time.Sleep(150 * time.Millisecond)
		}
		lc.HolderDied(id, rec.Now())
		deadline := time.Now().Add(time.Duration(g.TTL)*time.Second + leaseAllowance + time.Second)
		for !gone && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			gone = observeGone(ctx, c, rec, lc, id, key, next())
		}
	}
}

// observeGone reads key linearizably through member i and reports
// whether it is absent (recording the read's return time as the
// observation).
func observeGone(ctx context.Context, c *chaos.Cluster, rec *chaos.Recorder, lc *chaos.LeaseChecker, id keel.LeaseID, key string, i int) bool {
	gctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	out, err := c.Executor(i).Exec(gctx, chaos.Input{Kind: chaos.OpGet, Key: key})
	if err != nil || out.Found {
		return false
	}
	lc.Deleted(id, rec.Now())
	return true
}
