package main

import (
	"context"
	"time"
)

// joinerName is the name (Keel: Config.ID) of the member that joins.
const joinerName = "m4"

// joinSettle is how long the cluster runs untouched before the join: etcd
// refuses to add a member (ErrUnhealthy) unless the member handling the
// request has been connected to a quorum, counting the new member as
// down, for etcdserver.HealthInterval (5 s), and the lagging follower has
// just restarted. Both systems wait the same.
const joinSettle = 6 * time.Second

// joinTimes is what cluster.join measures, each from the moment the join
// starts (Keel: keel.Open is called; etcd: MemberAddAsLearner is sent).
type joinTimes struct {
	// Linearizable is the time until a linearizable Get on the new member
	// returned the value written last.
	Linearizable time.Duration
	// Voter is the time until the new member was a voter: Keel, a
	// MemberList on the leader shows it without IsLearner (the leader
	// promotes it); etcd, MemberPromote succeeded.
	Voter time.Duration
	// Note, if not empty, tells what delayed the join, as the new
	// member's log shows it.
	Note string
}

// stepJoin waits joinSettle, then starts a fresh member that joins the
// running cluster (tuned as the lagging-follower step left it, so the
// leader has compacted its log and the new member needs a snapshot), and
// times it to serving a linearizable Get of the last put and to becoming
// a voter. Whether and when it installed a snapshot is read from its log.
func stepJoin(ctx context.Context, c cluster, o options, r *result) error {
	if err := waitLeader(ctx, c); err != nil {
		return err
	}
	sleep(ctx, joinSettle)
	last := lagKey(o.LagWrites - 1)
	jctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	jt, err := c.join(jctx, last, valueFor(last, o.ValueBytes))
	if err != nil {
		return err
	}
	r.JoinLinearizable, r.JoinVoter, r.JoinNote = jt.Linearizable.Seconds(), jt.Voter.Seconds(), jt.Note
	// The member may serve the snapshot's data a moment before it logs
	// the install as complete.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var after time.Duration
		after, r.JoinSnapshotBytes, r.JoinSnapshotInstalled = c.joinerSnapshot()
		r.JoinSnapshotSeconds = after.Seconds()
		if r.JoinSnapshotInstalled || time.Now().After(deadline) {
			return nil
		}
		sleep(ctx, 20*time.Millisecond)
	}
}
