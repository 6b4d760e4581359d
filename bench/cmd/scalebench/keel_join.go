package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/keeldb/keel"
)

// voterPoll is how often the leader's member list is checked for the
// joined member's promotion.
const voterPoll = 10 * time.Millisecond

// join opens a fresh member with Config.Join naming the running members:
// keel.Open returns once the leader added it as a learner, it caught up
// and it serves a linearizable read. The leader promotes it on its own;
// the promotion is timed by polling the leader's MemberList (serializable:
// the leader's own view, which has the promotion once it is committed) in
// the background from the start, as it may come before Open returns.
func (c *keelCluster) join(ctx context.Context, key, want string) (jt joinTimes, err error) {
	l := c.leader()
	if l < 0 {
		return jt, errors.New("keel: join: no leader")
	}
	leader := c.stores[l]
	addrs := make([]string, len(c.peers))
	for i, p := range c.peers {
		addrs[i] = p.Addr
	}
	c.joinerLog = newLogCapture(raftMsgInstalled, raftMsgCopied)
	cfg := keel.Config{
		ID: joinerName, Dir: filepath.Join(c.dir, joinerName), Addr: "127.0.0.1:0",
		Join: addrs, ClusterToken: clusterToken, Logger: newSlogLogger(c.joinerLog),
	}
	tuneKeel(&cfg, tuneSnapshot)

	vctx, vcancel := context.WithCancel(ctx)
	defer vcancel()
	type voterResult struct {
		at  time.Time
		err error
	}
	voter := make(chan voterResult, 1)
	c.joinerOpen = time.Now()
	start := c.joinerOpen
	go func() {
		at, err := waitKeelVoter(vctx, leader, joinerName)
		voter <- voterResult{at, err}
	}()
	s, err := keel.Open(cfg)
	if err != nil {
		return jt, fmt.Errorf("keel: open joining member %s: %w", joinerName, err)
	}
	c.joiner = s
	get := func(ctx context.Context) (string, error) {
		r, err := s.Get(ctx, key)
		if err != nil {
			return "", err
		}
		if len(r.Kvs) == 0 {
			return "", errNotFound
		}
		return string(r.Kvs[0].Value), nil
	}
	if err := pollRead(ctx, joinerName, key, want, get); err != nil {
		return jt, fmt.Errorf("keel: linearizable get: %w", err)
	}
	jt.Linearizable = time.Since(start)
	v := <-voter
	if v.err != nil {
		return jt, v.err
	}
	jt.Voter = v.at.Sub(start)
	return jt, nil
}

// waitKeelVoter polls s's member list (serializable) until it lists the
// member called name as a voter, and returns when it saw that.
func waitKeelVoter(ctx context.Context, s *keel.Store, name string) (time.Time, error) {
	isVoter := func(m *keel.Member) bool { return m.Name == name && !m.IsLearner }
	for {
		r, err := s.MemberList(ctx, keel.WithSerializable())
		if err == nil && slices.ContainsFunc(r.Members, isVoter) {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("keel: %s not promoted to voter: %w", name, errors.Join(ctx.Err(), err))
		case <-time.After(voterPoll):
		}
	}
}

func (c *keelCluster) joinerSnapshot() (time.Duration, int64, bool) {
	if c.joinerLog == nil {
		return 0, 0, false
	}
	n, _ := c.joinerLog.maxUint(raftMsgCopied, "bytes", c.joinerOpen)
	at, ok := c.joinerLog.first(raftMsgInstalled, c.joinerOpen)
	if !ok {
		return 0, int64(n), false
	}
	return at.Sub(c.joinerOpen), int64(n), true
}
