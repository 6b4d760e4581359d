package keel

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/keeldb/keel/internal/wire"
)

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
// before the deadline its last acknowledged keepalive promised. Before
// proposing revokes the leader confirms its leadership with a quorum, and
// it proposes them only locally, so a deposed leader never revokes a lease.
// It revokes at most Config.LeaseRevokeRate a second, earliest deadline
// first (lessor_expire.go).
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
// ElectionTimeout), at least 1 s. With the default timeouts that is 5 s.
// The only voter of a cluster has no failover to ride out: 1 s.
func (s *Store) minLeaseTTL() int64 {
	if s.isSingleVoter() {
		return 1
	}
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
// time, batching every renewal that arrives meanwhile) while this member
// leads. Expiry runs apart (expireLoop), so that a backlog of revokes
// never delays the checkpoints keepalives wait for.
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
