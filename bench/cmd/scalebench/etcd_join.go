package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// promotePoll is how often MemberPromote is retried while etcd refuses it
// because the learner has not caught up.
const promotePoll = 10 * time.Millisecond

// join adds a member the way etcd's documentation does (an operator's
// clientv3 client, connected to the running members before the clock
// starts): MemberAddAsLearner; embed.StartEtcd of the new member with
// initial-cluster-state "existing"; MemberPromote, retried while etcd
// answers that the learner is not in sync with the leader; then a
// linearizable Get through a client of the new member's own client URL.
// An etcd learner refuses linearizable reads ("rpc not supported for
// learner"), so the member serves one only once it is promoted.
func (c *etcdCluster) join(ctx context.Context, key, want string) (jt joinTimes, err error) {
	ports, err := freePorts(2)
	if err != nil {
		return jt, fmt.Errorf("etcd: %w", err)
	}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	endpoints := make([]string, len(c.clients))
	for i, u := range c.clients {
		endpoints[i] = u.String()
	}
	op, err := newEtcdClient(endpoints...)
	if err != nil {
		return jt, err
	}
	defer op.Close()
	if _, err := op.MemberList(ctx); err != nil { // connected before the clock starts
		return jt, fmt.Errorf("etcd: member list: %w", err)
	}

	c.joinerLog = newLogCapture(etcdMsgApplied, etcdMsgReceived, etcdMsgPublishFailed)
	c.joinerOpen = time.Now()
	start := c.joinerOpen
	added, err := op.MemberAddAsLearner(ctx, []string{peer.String()})
	if err != nil {
		return jt, fmt.Errorf("etcd: add learner: %w", err)
	}
	initial := c.initial + "," + joinerName + "=" + peer.String()
	cfg := c.memberConfig(joinerName, peer, client, initial, embed.ClusterStateFlagExisting, c.joinerLog, tuneSnapshot)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return jt, fmt.Errorf("etcd: start member %s: %w", joinerName, err)
	}
	c.joiner = e
	if err := promote(ctx, op, added.Member.ID); err != nil {
		return jt, err
	}
	jt.Voter = time.Since(start)
	own, err := newEtcdClient(client.String())
	if err != nil {
		return jt, err
	}
	defer own.Close()
	get := func(ctx context.Context) (string, error) {
		r, err := own.Get(ctx, key)
		if err != nil {
			return "", err
		}
		if len(r.Kvs) == 0 {
			return "", errNotFound
		}
		return string(r.Kvs[0].Value), nil
	}
	if err := pollRead(ctx, joinerName, key, want, get); err != nil {
		return jt, fmt.Errorf("etcd: linearizable get: %w", err)
	}
	jt.Linearizable = time.Since(start)
	if n := len(c.joinerLog.since(etcdMsgPublishFailed, start)); n > 0 {
		jt.Note = fmt.Sprintf("%s served clients only after %d timed-out publish(es) of its attributes through raft (etcd retries after ReqTimeout)", joinerName, n)
	}
	return jt, nil
}

// newEtcdClient returns a clientv3 client of endpoints.
func newEtcdClient(endpoints ...string) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd: client of %v: %w", endpoints, err)
	}
	return cli, nil
}

// promote promotes the learner id, retrying while etcd refuses because the
// learner is not in sync with the leader (or a try times out), until ctx
// ends.
func promote(ctx context.Context, cli *clientv3.Client, id uint64) error {
	notReady := rpctypes.ErrorDesc(rpctypes.ErrGRPCLearnerNotReady)
	for {
		pctx, cancel := context.WithTimeout(ctx, readTimeout)
		_, err := cli.MemberPromote(pctx, id)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("etcd: promote %s: %w", joinerName, errors.Join(ctx.Err(), err))
		case rpctypes.ErrorDesc(err) != notReady && !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("etcd: promote %s: %w", joinerName, err)
		}
		sleep(ctx, promotePoll)
	}
}

func (c *etcdCluster) joinerSnapshot() (time.Duration, int64, bool) {
	if c.joinerLog == nil {
		return 0, 0, false
	}
	n, _ := c.joinerLog.maxUint(etcdMsgReceived, "incoming-snapshot-size-bytes", c.joinerOpen)
	at, ok := c.joinerLog.first(etcdMsgApplied, c.joinerOpen)
	if !ok {
		return 0, int64(n), false
	}
	return at.Sub(c.joinerOpen), int64(n), true
}
