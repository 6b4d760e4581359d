package keel

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
)

// MaxLeaseTTL is the largest TTL Grant accepts, in seconds (etcd's limit).
const MaxLeaseTTL = 9_000_000_000

var _ Lease = (*Store)(nil)

// lessor runs lease expiry. Every member keeps a local deadline per lease,
// set when it applies the lease's grant (now + TTL) and each checkpoint the
// leader replicates (now + the remaining TTL the leader measured, so never
// earlier than the leader's own deadline). Only the leader, once it is
// ready in its term, renews leases and expires them. Keepalives reach it
// from any member and are not raft entries each: renewals are batched, one
// checkpoint entry in flight at a time carrying the remaining TTL of every
// lease renewed since the previous one, and a renewal is acknowledged only
// once its checkpoint has committed. A new leader therefore continues from
// the remaining TTLs the old one replicated instead of resetting them to
// the full TTL, however often the leader changes, and never expires a lease
// before the deadline its last acknowledged keepalive promised. Before proposing revokes the leader confirms its leadership with
// a quorum, and it proposes them only locally, so a deposed leader never
// revokes a lease.
//
// lessor is safe for concurrent use.
type lessor struct {
	s *Store

	mu       sync.Mutex
	primary  bool
	deadline map[LeaseID]time.Time
	renewed  map[LeaseID]struct{}  // renewed since the last checkpoint
	batch    *ckptBatch            // renewals waiting for that checkpoint
	retryAt  map[LeaseID]time.Time // revoke in flight or failed: not before
	kick     chan struct{}         // a renewal waits for a checkpoint
}

// ckptBatch is one checkpoint that acknowledged renewals wait for: a
// renewal is only reported to its holder once the remaining TTL it set has
// been replicated, so a new leader never expires a lease earlier than a
// keepalive response promised.
type ckptBatch struct {
	done chan struct{}
	err  error // set before done closes
}

func newLessor(s *Store) *lessor {
	return &lessor{
		s: s, deadline: map[LeaseID]time.Time{}, renewed: map[LeaseID]struct{}{},
		retryAt: map[LeaseID]time.Time{}, kick: make(chan struct{}, 1),
	}
}

// minLeaseTTL is the smallest TTL Grant gives, in seconds: long enough that
// a holder renewing every TTL/3 reaches a new leader before the deadline
// its last acknowledged renewal set, even when the leader fails just before
// the next renewal: 1.5 × the worst failover (2 × HeartbeatTimeout +
// ElectionTimeout), at least 1 s. With the default timeouts that is 5 s;
// for a single member, 1 s.
func (s *Store) minLeaseTTL() int64 {
	failover := 2*s.cfg.HeartbeatTimeout + s.cfg.ElectionTimeout
	return max(1, int64(math.Ceil(1.5*failover.Seconds())))
}

// reload rebuilds the deadlines from the replicated lease table, after
// Open or a snapshot install.
func (l *lessor) reload() {
	now := time.Now()
	recs := l.s.kv.Leases()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deadline = make(map[LeaseID]time.Time, len(recs))
	for _, r := range recs {
		l.deadline[LeaseID(r.ID)] = now.Add(recordRemaining(r.TTL, r.RemainingTTL))
	}
	clear(l.renewed)
	clear(l.retryAt)
}

func recordRemaining(ttl, remainingMillis int64) time.Duration {
	if remainingMillis > 0 {
		return time.Duration(remainingMillis) * time.Millisecond
	}
	return time.Duration(ttl) * time.Second
}

func (l *lessor) granted(id LeaseID, ttl int64) {
	l.mu.Lock()
	l.deadline[id] = time.Now().Add(time.Duration(ttl) * time.Second)
	l.mu.Unlock()
}

func (l *lessor) revoked(id LeaseID) {
	l.mu.Lock()
	delete(l.deadline, id)
	delete(l.renewed, id)
	delete(l.retryAt, id)
	l.mu.Unlock()
}

func (l *lessor) checkpointed(cps []leaseCheckpoint) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.primary {
		return // the leader's own deadlines are the source of the checkpoint
	}
	for _, cp := range cps {
		if _, ok := l.deadline[cp.id]; ok {
			l.deadline[cp.id] = now.Add(time.Duration(cp.remaining) * time.Millisecond)
		}
	}
}

// promote makes this member run expiry; it is called once the leader's
// first command of its term has been applied, so every earlier grant,
// checkpoint and revoke is reflected in the deadlines.
func (l *lessor) promote() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.primary = true
	clear(l.renewed)
	clear(l.retryAt)
}

func (l *lessor) demote() {
	l.mu.Lock()
	l.primary = false
	b := l.batch
	l.batch = nil
	clear(l.renewed)
	l.mu.Unlock()
	if b != nil {
		b.err = ErrNotLeader
		close(b.done)
	}
}

// renew extends a lease to its full TTL, on the leader, and returns the
// checkpoint the renewal must wait for before it is acknowledged. A lease
// whose deadline has passed is expired (its revoke is due) and cannot be
// renewed.
func (l *lessor) renew(id LeaseID) (int64, *ckptBatch, error) {
	rec, ok := l.s.kv.Lease(int64(id))
	if !ok {
		return 0, nil, ErrLeaseNotFound
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.primary {
		return 0, nil, ErrNotLeader
	}
	if d, ok := l.deadline[id]; ok && !d.After(now) {
		return 0, nil, ErrLeaseNotFound
	}
	l.deadline[id] = now.Add(time.Duration(rec.TTL) * time.Second)
	l.renewed[id] = struct{}{}
	if l.batch == nil {
		l.batch = &ckptBatch{done: make(chan struct{})}
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return rec.TTL, l.batch, nil
}

// remaining returns the time left on a lease by this member's estimate.
func (l *lessor) remaining(id LeaseID) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.deadline[id]
	return max(time.Until(d), 0), ok
}

// run checkpoints renewals as they come (one checkpoint in flight at a
// time, batching every renewal that arrives meanwhile) and expires leases,
// while this member leads.
func (l *lessor) run() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-l.s.stop:
			l.demote() // releases waiting renewals
			return
		case <-l.kick:
			l.checkpointRenewals()
		case <-t.C:
			l.checkpointRenewals()
			l.expireDue()
		}
	}
}

// checkpointRenewals replicates the remaining TTL of every lease renewed
// since the last checkpoint, then acknowledges those renewals.
func (l *lessor) checkpointRenewals() {
	now := time.Now()
	l.mu.Lock()
	b := l.batch
	if !l.primary || b == nil {
		l.mu.Unlock()
		return
	}
	cps := make([]leaseCheckpoint, 0, len(l.renewed))
	for id := range l.renewed {
		if d, ok := l.deadline[id]; ok {
			cps = append(cps, leaseCheckpoint{id: id, remaining: max(d.Sub(now).Milliseconds(), 1)})
		}
	}
	clear(l.renewed)
	l.batch = nil
	l.mu.Unlock()
	slices.SortFunc(cps, func(a, b leaseCheckpoint) int { return cmpInt(int64(a.id), int64(b.id)) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*l.s.cfg.ElectionTimeout)
	res, err := l.s.proposeLocal(ctx, encodeLeaseCheckpointCommand(cps))
	cancel()
	if err == nil {
		err = res.err
	}
	b.err = err
	close(b.done)
}

func (l *lessor) expireDue() {
	now := time.Now()
	var due []LeaseID
	l.mu.Lock()
	if l.primary {
		for id, d := range l.deadline {
			if !d.After(now) && !l.retryAt[id].After(now) {
				due = append(due, id)
				l.retryAt[id] = now.Add(3 * time.Second)
			}
		}
	}
	l.mu.Unlock()
	if len(due) == 0 {
		return
	}
	slices.Sort(due)
	// A leader cut off from the quorum must not revoke: confirm first.
	term, _, _ := l.s.lead.get()
	ctx, cancel := context.WithTimeout(context.Background(), 2*l.s.cfg.ElectionTimeout)
	err := l.s.confirmLeadership(ctx, term)
	cancel()
	if err != nil || term == 0 {
		return
	}
	for _, id := range due {
		ctx, cancel := context.WithTimeout(context.Background(), 2*l.s.cfg.ElectionTimeout)
		res, err := l.s.proposeLocal(ctx, encodeLeaseRevokeCommand(id))
		cancel()
		switch {
		case err != nil:
			l.s.log.Warn("lease revoke failed; will retry", "lease", int64(id), "err", err)
			return
		case res.err != nil && !errors.Is(res.err, ErrLeaseNotFound):
			l.s.log.Warn("lease revoke failed; will retry", "lease", int64(id), "err", res.err)
		default:
			l.s.log.Debug("lease expired", "lease", int64(id))
		}
	}
}

// Grant creates a lease with a TTL in seconds. The TTL is raised to the
// cluster's minimum (see MinLeaseTTL); above MaxLeaseTTL it fails with
// ErrLeaseTTLTooLarge. The ID is chosen before proposing, so every member
// records the same lease.
func (s *Store) Grant(ctx context.Context, ttl int64) (*LeaseGrantResponse, error) {
	if ttl > MaxLeaseTTL {
		return nil, ErrLeaseTTLTooLarge
	}
	ttl = max(ttl, s.minLeaseTTL())
	for {
		id, err := newLeaseID()
		if err != nil {
			return nil, err
		}
		res, err := s.propose(ctx, encodeLeaseGrantCommand(id, ttl))
		if err != nil {
			return nil, err
		}
		if errors.Is(res.err, ErrLeaseExists) {
			continue // an ID collision: pick another
		}
		if res.err != nil {
			return nil, res.err
		}
		s.fillHeader(res.grant.Header)
		return res.grant, nil
	}
}

// MinLeaseTTL returns the smallest TTL, in seconds, that Grant gives.
func (s *Store) MinLeaseTTL() int64 { return s.minLeaseTTL() }

func newLeaseID() (LeaseID, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("keel: lease ID: %w", err)
		}
		if id := LeaseID(binary.BigEndian.Uint64(b[:]) >> 1); id != NoLease {
			return id, nil
		}
	}
}

// Revoke deletes the lease and every key attached to it, in one revision.
func (s *Store) Revoke(ctx context.Context, id LeaseID) (*LeaseRevokeResponse, error) {
	res, err := s.propose(ctx, encodeLeaseRevokeCommand(id))
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	s.fillHeader(res.revoke.Header)
	return res.revoke, nil
}

// KeepAliveOnce renews the lease once, to its full TTL. It fails with
// ErrLeaseNotFound if the lease does not exist or has already expired.
func (s *Store) KeepAliveOnce(ctx context.Context, id LeaseID) (*LeaseKeepAliveResponse, error) {
	req := binary.AppendVarint([]byte{msgLeaseRenew}, int64(id))
	reply, err := s.callLeader(ctx, req, func(ctx context.Context) ([]byte, error) {
		return s.serveLeaseRenew(ctx, id), nil
	})
	if err != nil {
		return nil, err
	}
	d := wire.NewDecoder(reply, ErrCorruptCommand)
	if code := d.Byte(); code != 0 {
		err := decodeError(d, code)
		return nil, errors.Join(err, d.Finish())
	}
	ttl := d.Varint()
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return &LeaseKeepAliveResponse{Header: s.headerPtr(), ID: id, TTL: ttl}, nil
}

// serveLeaseRenew renews a lease on the leader, after confirming
// leadership with a quorum (batched with linearizable reads), so a deposed
// leader does not accept renewals the real leader never sees.
func (s *Store) serveLeaseRenew(ctx context.Context, id LeaseID) []byte {
	e := wire.Encoder{}
	if _, err := s.reads.index(ctx); err != nil {
		encodeError(&e, err)
		return e.Buf
	}
	ttl, batch, err := s.leases.renew(id)
	if err == nil {
		select { // acknowledged only once the new remaining TTL is replicated
		case <-batch.done:
			err = batch.err
		case <-ctx.Done():
			err = fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		case <-s.stop:
			err = ErrStopped
		}
	}
	if err != nil {
		encodeError(&e, err)
		return e.Buf
	}
	e.Byte(0)
	e.Varint(ttl)
	return e.Buf
}

// KeepAlive keeps the lease alive until ctx ends: it renews it every third
// of its TTL (retrying sooner after a failure) and sends one response per
// renewal on the returned channel. The first renewal happens before
// KeepAlive returns; its failure is returned. The channel is closed when
// ctx ends, the Store closes, or the lease is gone (revoked or expired).
// Responses the consumer does not read in time are dropped, as in clientv3.
func (s *Store) KeepAlive(ctx context.Context, id LeaseID) (<-chan *LeaseKeepAliveResponse, error) {
	first, err := s.KeepAliveOnce(ctx, id)
	if err != nil {
		return nil, err
	}
	ch := make(chan *LeaseKeepAliveResponse, 16)
	ch <- first
	s.wg.Go(func() { s.keepAliveLoop(ctx, id, first.TTL, ch) })
	return ch, nil
}

func (s *Store) keepAliveLoop(ctx context.Context, id LeaseID, ttl int64, ch chan *LeaseKeepAliveResponse) {
	defer close(ch)
	interval := max(time.Duration(ttl)*time.Second/3, 100*time.Millisecond)
	expires := time.Now().Add(time.Duration(ttl) * time.Second)
	next := interval
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-time.After(next):
		}
		rctx, cancel := context.WithTimeout(ctx, interval)
		resp, err := s.KeepAliveOnce(rctx, id)
		cancel()
		switch {
		case err == nil:
			expires = time.Now().Add(time.Duration(resp.TTL) * time.Second)
			next = interval
			select {
			case ch <- resp:
			default: // the consumer is behind: drop, as clientv3 does
			}
		case errors.Is(err, ErrLeaseNotFound), errors.Is(err, ErrStopped):
			return
		case time.Now().After(expires):
			return // could not renew in time: the lease has expired
		default:
			next = 100 * time.Millisecond
		}
	}
}

// TimeToLive returns the lease's remaining TTL (as the leader sees it) and
// granted TTL; WithAttachedKeys adds its keys. A lease that does not exist
// has TTL -1.
func (s *Store) TimeToLive(ctx context.Context, id LeaseID, opts ...LeaseOption) (*LeaseTimeToLiveResponse, error) {
	var o leaseOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	req := binary.AppendVarint([]byte{msgLeaseTTL}, int64(id))
	if o.attachedKeys {
		req = append(req, 1)
	} else {
		req = append(req, 0)
	}
	reply, err := s.callLeader(ctx, req, func(ctx context.Context) ([]byte, error) {
		return s.serveLeaseTTL(ctx, id, o.attachedKeys), nil
	})
	if err != nil {
		return nil, err
	}
	d := wire.NewDecoder(reply, ErrCorruptCommand)
	if code := d.Byte(); code != 0 {
		err := decodeError(d, code)
		return nil, errors.Join(err, d.Finish())
	}
	resp := &LeaseTimeToLiveResponse{Header: s.headerPtr(), ID: id, TTL: d.Varint(), GrantedTTL: d.Varint()}
	n := d.Count(1)
	for i := 0; i < n && d.Err() == nil; i++ {
		resp.Keys = append(resp.Keys, d.Bytes())
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *Store) serveLeaseTTL(ctx context.Context, id LeaseID, withKeys bool) []byte {
	e := wire.Encoder{}
	if _, err := s.reads.index(ctx); err != nil {
		encodeError(&e, err)
		return e.Buf
	}
	e.Byte(0)
	rec, ok := s.kv.Lease(int64(id))
	rem, known := s.leases.remaining(id)
	if !ok || !known {
		e.Varint(-1)
		e.Varint(0)
		e.Uvarint(0)
		return e.Buf
	}
	e.Varint(int64(rem / time.Second))
	e.Varint(rec.TTL)
	var keys [][]byte
	if withKeys {
		keys = s.kv.LeaseKeys(int64(id))
	}
	e.Uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.Bytes(k)
	}
	return e.Buf
}

// Leases lists every lease (linearizable).
func (s *Store) Leases(ctx context.Context) (*LeaseLeasesResponse, error) {
	var out []LeaseStatus
	_, err := s.read(ctx, false, func() (OpResponse, error) {
		for _, r := range s.kv.Leases() {
			out = append(out, LeaseStatus{ID: LeaseID(r.ID)})
		}
		return OpResponse{}, nil
	})
	if err != nil {
		return nil, err
	}
	return &LeaseLeasesResponse{Header: s.headerPtr(), Leases: out}, nil
}

// callLeader runs a leader-only request: locally on the leader, else
// forwarded to it. The requests it carries are idempotent, so it retries
// until ctx ends on any failure that is not a definite answer.
func (s *Store) callLeader(ctx context.Context, req []byte, local func(context.Context) ([]byte, error)) ([]byte, error) {
	backoff := 5 * time.Millisecond
	for {
		if s.stopped() {
			return nil, ErrStopped
		}
		var reply []byte
		var err error
		if s.raft.State() == raft.Leader {
			reply, err = local(ctx)
		} else if addr := s.leaderAddr(); addr != "" {
			reply, err = s.trans.Call(ctx, addr, req)
		} else {
			err = ErrNoLeader
		}
		if err == nil && !(len(reply) > 0 && int(reply[0]) < len(errorCodes) && (errorCodes[reply[0]] == ErrNotLeader || errorCodes[reply[0]] == ErrNoLeader || errorCodes[reply[0]] == ErrTimeout)) {
			return reply, nil
		}
		select {
		case <-ctx.Done():
			if s.leaderAddr() == "" {
				return nil, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
			}
			return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		case <-s.stop:
			return nil, ErrStopped
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// fillHeader completes a header with this member's identity and term.
func (s *Store) fillHeader(h *ResponseHeader) {
	h.ClusterID, h.MemberID, h.RaftTerm = s.id.ClusterID, s.memberID, s.raft.CurrentTerm()
}

// headerPtr returns a header for this member at its current revision.
func (s *Store) headerPtr() *ResponseHeader {
	h := s.header(s.kv.Rev())
	return &h
}
