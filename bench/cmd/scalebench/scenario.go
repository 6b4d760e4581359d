package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Bounds of the waits between steps.
const (
	readTimeout  = 2 * time.Second
	pollInterval = 2 * time.Millisecond
	stepTimeout  = 3 * time.Minute
)

// runSystem runs every step on a new cluster of system under dir and
// returns what it measured. progress receives one line per step.
func runSystem(ctx context.Context, o options, system, dir string, progress io.Writer) (r result, err error) {
	start := time.Now()
	r = result{System: system, Method: o.method(), Keys: o.Keys, LagWrites: o.LagWrites}
	logf := func(format string, args ...any) {
		fmt.Fprintf(progress, "scalebench: %s %6.1fs (peak RSS so far %4.0f MiB): %s\n",
			system, time.Since(start).Seconds(), float64(readPeakRSS())/mib, fmt.Sprintf(format, args...))
	}
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	c, err := startCluster(sctx, system, dir)
	cancel()
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, c.close()) }()
	logf("cluster up, leader m%d", c.leader()+1)

	if err := stepLoad(ctx, c, o, &r); err != nil {
		return r, fmt.Errorf("load: %w", err)
	}
	logf("loaded %d keys in %.1fs (%.0f keys/s, %d retries)", o.Keys, r.LoadSeconds, r.LoadRate, r.LoadRetries)
	if err := stepRestartFollower(ctx, c, o, &r); err != nil {
		return r, fmt.Errorf("follower restart: %w", err)
	}
	logf("follower restart: serializable %.3fs, linearizable %.3fs", r.FollowerSerializable, r.FollowerLinearizable)
	if err := stepRestartCluster(ctx, c, o, &r); err != nil {
		return r, fmt.Errorf("cluster restart: %w", err)
	}
	logf("cluster restart: linearizable %.3fs", r.ClusterLinearizable)
	if err := stepBackup(ctx, c, &r); err != nil {
		return r, fmt.Errorf("backup snapshot: %w", err)
	}
	logf("backup snapshot: %d bytes in %.3fs", r.BackupBytes, r.BackupSeconds)
	if err := stepLaggingFollower(ctx, c, o, &r, logf); err != nil {
		return r, fmt.Errorf("lagging follower: %w", err)
	}
	logf("lagging follower caught up in %.3fs, snapshot installed: %v", r.LagCatchUp, r.SnapshotInstalled)
	if err := stepJoin(ctx, c, o, &r); err != nil {
		return r, fmt.Errorf("join: %w", err)
	}
	logf("fresh member joined: snapshot installed %.3fs, linearizable get %.3fs, voter %.3fs",
		r.JoinSnapshotSeconds, r.JoinLinearizable, r.JoinVoter)
	if r.JoinNote != "" {
		logf("join: %s", r.JoinNote)
	}
	if err := stepDefrag(ctx, c, o, &r, logf); err != nil {
		return r, fmt.Errorf("defrag: %w", err)
	}
	r.WallSeconds = time.Since(start).Seconds()
	return r, nil
}

// startCluster starts a new 3-member cluster of system under dir.
func startCluster(ctx context.Context, system, dir string) (cluster, error) {
	switch system {
	case systemKeel:
		return startKeel(ctx, dir)
	case systemEtcd:
		return startEtcd(ctx, dir)
	default:
		return nil, fmt.Errorf("%w: unknown system %q", errUsage, system)
	}
}

// stepLoad loads the keys and measures heap and RSS before and after.
func stepLoad(ctx context.Context, c cluster, o options, r *result) error {
	r.HeapBefore = readHeap()
	d, retries, err := load(ctx, c, loadSpec{N: o.Keys, Batch: o.Batch, Writers: o.Writers, ValueBytes: o.ValueBytes, Name: loadKey})
	if err != nil {
		return err
	}
	r.LoadSeconds, r.LoadRate, r.LoadRetries = d.Seconds(), float64(o.Keys)/d.Seconds(), retries
	r.PeakRSSLoad = readPeakRSS()
	// Every member applied the load before the heap is read.
	last := loadKey(o.Keys - 1)
	for i := range members {
		if err := pollGet(ctx, c, i, last, valueFor(last, o.ValueBytes), true); err != nil {
			return fmt.Errorf("member m%d applying the load: %w", i+1, err)
		}
	}
	r.HeapAfter = readHeap()
	r.RSSAfterLoad = readRSS()
	return nil
}

// stepRestartFollower stops a follower, reopens it and times its first
// serializable, then linearizable, read of the last key.
func stepRestartFollower(ctx context.Context, c cluster, o options, r *result) error {
	f, err := follower(c)
	if err != nil {
		return err
	}
	if err := c.closeMember(f); err != nil {
		return err
	}
	last := loadKey(o.Keys - 1)
	want := valueFor(last, o.ValueBytes)
	start := time.Now()
	if err := c.openMember(f, tuneDefault); err != nil {
		return err
	}
	if err := pollGet(ctx, c, f, last, want, true); err != nil {
		return fmt.Errorf("serializable get: %w", err)
	}
	r.FollowerSerializable = time.Since(start).Seconds()
	if err := pollGet(ctx, c, f, last, want, false); err != nil {
		return fmt.Errorf("linearizable get: %w", err)
	}
	r.FollowerLinearizable = time.Since(start).Seconds()
	return nil
}

// stepRestartCluster stops every member, measures their files at rest,
// reopens them all at once and times the first linearizable read of the
// last key on the first member.
func stepRestartCluster(ctx context.Context, c cluster, o options, r *result) error {
	if err := c.close(); err != nil {
		return err
	}
	if err := measureFiles(c, r); err != nil {
		return err
	}
	last := loadKey(o.Keys - 1)
	start := time.Now()
	if err := openAll(c, tuneDefault); err != nil {
		return err
	}
	if err := pollGet(ctx, c, 0, last, valueFor(last, o.ValueBytes), false); err != nil {
		return fmt.Errorf("linearizable get: %w", err)
	}
	r.ClusterLinearizable = time.Since(start).Seconds()
	return nil
}

// measureFiles records the mean size of the members' files.
func measureFiles(c cluster, r *result) error {
	var db, wal, snap int64
	for i := range members {
		f := c.files(i)
		n, err := fileSize(f.DB)
		if err != nil {
			return err
		}
		db += n
		if n, err = diskUsage(f.WAL, ""); err != nil {
			return err
		}
		wal += n
		if n, err = diskUsage(f.Snap, f.SnapExclude); err != nil {
			return err
		}
		snap += n
	}
	r.DBBytes, r.WALBytes, r.SnapBytes = db/members, wal/members, snap/members
	return nil
}

// stepBackup times a backup snapshot of the leader's database.
func stepBackup(ctx context.Context, c cluster, r *result) error {
	if err := waitLeader(ctx, c); err != nil {
		return err
	}
	start := time.Now()
	n, err := c.snapshot(ctx, io.Discard)
	if err != nil {
		return err
	}
	r.BackupBytes, r.BackupSeconds = n, time.Since(start).Seconds()
	return nil
}

// stepLaggingFollower restarts the cluster tuned to snapshot often, stops
// a follower, writes LagWrites puts, waits until the leader discarded the
// log entries the follower misses, then reopens the follower (tuned too)
// and times its first serializable read of the last put.
func stepLaggingFollower(ctx context.Context, c cluster, o options, r *result, logf func(string, ...any)) error {
	if err := c.close(); err != nil {
		return err
	}
	if err := openAll(c, tuneSnapshot); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := waitWritable(wctx, c); err != nil {
		return err
	}
	f, err := follower(c)
	if err != nil {
		return err
	}
	// The follower holds the write waitWritable made before it stops.
	if err := pollGet(wctx, c, f, readyKey, readyKey, true); err != nil {
		return fmt.Errorf("follower m%d before stopping: %w", f+1, err)
	}
	index := c.lastIndex(f)
	if err := c.closeMember(f); err != nil {
		return err
	}
	d, _, err := load(ctx, c, loadSpec{N: o.LagWrites - 1, Batch: 1, Writers: o.Writers, ValueBytes: o.ValueBytes, Name: lagKey})
	if err != nil {
		return err
	}
	last := lagKey(o.LagWrites - 1)
	want := valueFor(last, o.ValueBytes)
	if _, err := putRetrying(ctx, c, []kv{{key: last, value: want}}); err != nil {
		return err
	}
	logf("wrote %d puts with m%d down (its log ends at %d) in %.1fs", o.LagWrites, f+1, index, d.Seconds())
	r.LeaderCompacted = waitCompacted(wctx, c, index)
	if !r.LeaderCompacted {
		logf("the leader did not compact its log past %d within %v; the follower may catch up from the log", index, stepTimeout)
	}
	// The follower restarts with the same small snapshot settings, so it
	// may take a snapshot of its own while it installs the leader's.
	start := time.Now()
	if err := c.openMember(f, tuneSnapshot); err != nil {
		return err
	}
	if err := pollGet(wctx, c, f, last, want, true); err != nil {
		return fmt.Errorf("serializable get on m%d: %w", f+1, err)
	}
	r.LagCatchUp = time.Since(start).Seconds()
	// The follower may serve the snapshot's data a moment before it logs
	// the install as complete.
	for deadline := time.Now().Add(10 * time.Second); ; {
		r.SnapshotInstalled, r.SnapshotReceivedBytes = c.installedSnapshot(f)
		if r.SnapshotInstalled || time.Now().After(deadline) {
			return nil
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

// waitCompacted waits until the leader (whoever leads at each check) has
// discarded raft log entries past index, or ctx ends.
func waitCompacted(ctx context.Context, c cluster, index uint64) bool {
	for {
		if l := c.leader(); l >= 0 && c.compactedPast(l, index) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readyKey is written (with itself as value) to check that a cluster
// accepts writes.
const readyKey = "scalebench/ready"

// waitWritable retries a put until one succeeds or ctx ends.
func waitWritable(ctx context.Context, c cluster) error {
	var err error
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, readTimeout)
		err = c.put(wctx, []kv{{key: readyKey, value: readyKey}})
		cancel()
		if err == nil {
			return nil
		}
		sleep(ctx, 20*time.Millisecond)
	}
	return fmt.Errorf("no write succeeded: %w", errors.Join(ctx.Err(), err))
}

// waitLeader waits until some member leads.
func waitLeader(ctx context.Context, c cluster) error {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	for c.leader() < 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("no leader: %w", ctx.Err())
		}
		sleep(ctx, 10*time.Millisecond)
	}
	return nil
}

// follower returns the position of the member after the leader.
func follower(c cluster) (int, error) {
	l := c.leader()
	if l < 0 {
		return 0, errors.New("no leader")
	}
	return (l + 1) % members, nil
}

// pollGet retries a Get of key on member i until it returns want, bounded
// by stepTimeout.
func pollGet(ctx context.Context, c cluster, i int, key, want string, serializable bool) error {
	get := func(ctx context.Context) (string, error) { return c.get(ctx, i, key, serializable) }
	return pollRead(ctx, fmt.Sprintf("m%d", i+1), key, want, get)
}

// pollRead retries get, a read of key on the member named member, until
// it returns want, bounded by stepTimeout.
func pollRead(ctx context.Context, member, key, want string, get func(context.Context) (string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		rctx, rcancel := context.WithTimeout(ctx, readTimeout)
		var v string
		v, err = get(rctx)
		rcancel()
		if err == nil && v == want {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("got a value of %d bytes, not the one written", len(v))
		}
		sleep(ctx, pollInterval)
	}
	return fmt.Errorf("get %s on %s: %w", key, member, errors.Join(ctx.Err(), err))
}

// openAll reopens every member of c at once with t: members of a new etcd
// cluster look for each other on start, and a restart of a whole cluster
// is timed from all members starting together.
func openAll(c cluster, t tuning) error {
	var wg sync.WaitGroup
	errs := make([]error, members)
	for i := range members {
		wg.Go(func() { errs[i] = c.openMember(i, t) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
