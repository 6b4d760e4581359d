package lock

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keeldb/keel"
)

// Election is a leader election on a key prefix, with the methods and key
// scheme of etcd's concurrency.Election (Campaign, Proclaim, Resign,
// Leader, Observe, Key, Rev, Header) plus Done and IsLeader. Each
// candidate puts the key prefix/<lease ID in hex>, holding its proposal
// value, attached to its session's lease; the candidate whose key has the
// lowest CreateRevision leads, and the others queue in CreateRevision
// order, each watching only the key just before its own. Leadership
// therefore passes in campaign order.
//
// Unlike etcd, a blocked Campaign returns ErrSessionExpired when its
// session ends, a leader learns that it lost leadership through Done, and
// the leader key's CreateRevision (Rev) is a fencing token that strictly
// increases from one leader to the next: guard the leader's writes with
// IsLeader in a Txn, or have the resource reject lower tokens.
//
// # Concurrency
//
// Campaign, Proclaim and Resign must not be called concurrently on one
// Election; Leader, Observe and the accessors are safe to call at any
// time. Elections of one Session on one prefix share their key: they are
// one candidate. Competing candidates need sessions of their own.
type Election struct {
	s   *Session
	pfx string

	mu        sync.Mutex
	leaderKey string
	leaderRev int64
	leading   bool // a candidacy (or leadership) is held
	resumed   bool // leadership claimed by ResumeElection, not yet monitored
	hdr       *keel.ResponseHeader
	lost      chan struct{} // closed when the current leadership ends
	stopMon   context.CancelFunc
	monDone   chan struct{}
}

// NewElection returns an Election on prefix, campaigning through session
// s. It does not contact the store. An empty prefix makes every call fail
// with ErrEmptyPrefix.
func NewElection(s *Session, prefix string) *Election {
	return &Election{s: s, pfx: prefix + "/"}
}

// ResumeElection returns an Election on prefix that already leads with the
// leader key leaderKey created at revision leaderRev (the Key and Rev of
// an earlier Election), as etcd's concurrency.ResumeElection: typically
// after a restart, on a session that adopted the old lease WithLease. It
// does not contact the store; Proclaim and Resign act on leaderKey as long
// as its CreateRevision is still leaderRev, and Done watches it from the
// first call on.
//
// Unlike etcd, which keeps prefix as given here, the prefix gets the same
// "/" that NewElection adds, so Leader, Observe and Campaign of a resumed
// Election see the same keys as those of NewElection(s, prefix).
func ResumeElection(s *Session, prefix string, leaderKey string, leaderRev int64) *Election {
	return &Election{s: s, pfx: prefix + "/", leaderKey: leaderKey, leaderRev: leaderRev, leading: true, resumed: true}
}

// Campaign puts val as this session's proposal and blocks until it is
// elected: until every candidate that campaigned earlier has resigned or
// lost its session. If this session already campaigns, its value is
// replaced (Proclaim). It returns ErrSessionExpired if the session ends
// first; if ctx ends, the candidacy is withdrawn and ctx.Err() returned.
// After it returns nil, Done closes when the leadership ends and Rev is
// the fencing token of this leadership.
func (e *Election) Campaign(ctx context.Context, val string) error {
	if e.pfx == "/" {
		return ErrEmptyPrefix
	}
	select {
	case <-e.s.Done():
		return ErrSessionExpired
	default:
	}
	lease := e.s.Lease()
	k := fmt.Sprintf("%s%x", e.pfx, lease)
	resp, err := e.s.client.Txn(ctx).
		If(keel.Compare(keel.CreateRevision(k), "=", 0)).
		Then(keel.OpPut(k, val, keel.WithLease(lease))).
		Else(keel.OpGet(k)).
		Commit()
	if err != nil {
		e.mu.Lock()
		had := e.leading
		e.mu.Unlock()
		if !had && !isLeaseNotFound(err) {
			abandon(e.s, k) // the put may have applied: do not leave it queued
		}
		return leaseErr(err)
	}
	rev := resp.Header.Revision
	if !resp.Succeeded {
		kv := rangeResp(resp, 0).Kvs[0]
		rev = kv.CreateRevision
		e.setCandidate(k, rev)
		if string(kv.Value) != val {
			if err := e.Proclaim(ctx, val); err != nil {
				e.withdraw(k, rev)
				return err
			}
		}
	} else {
		e.setCandidate(k, rev)
	}
	if err := waitTurn(ctx, e.s, e.pfx, k, rev); err != nil {
		e.withdraw(k, rev)
		return err
	}
	// Make sure our key (and so our session) survived the wait.
	gr, err := e.s.client.Get(ctx, k)
	if err != nil {
		e.withdraw(k, rev)
		return err
	}
	if len(gr.Kvs) == 0 || gr.Kvs[0].CreateRevision != rev {
		e.clear()
		return ErrSessionExpired
	}
	e.elected(k, rev, gr.Header)
	return nil
}

func leaseErr(err error) error {
	if err != nil && isLeaseNotFound(err) {
		return fmt.Errorf("%w: %w", ErrSessionExpired, err)
	}
	return err
}

func (e *Election) setCandidate(k string, rev int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leaderKey != k || e.leaderRev != rev {
		e.stopMonitorLocked()
	}
	e.leaderKey, e.leaderRev, e.leading, e.resumed = k, rev, true, false
}

// elected records the leadership and starts watching for its end, unless
// a monitor for this very leadership already runs.
func (e *Election) elected(k string, rev int64, hdr *keel.ResponseHeader) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hdr = hdr
	e.monitorLocked(k, rev, hdr.Revision+1)
}

// monitorLocked starts watching for the end of the leadership held by k
// (created at rev) from revision from on, unless a monitor for it already
// runs. e.mu must be held.
func (e *Election) monitorLocked(k string, rev, from int64) {
	if e.lost != nil {
		select {
		case <-e.lost:
		default:
			return // still monitoring this leadership
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	lost, done := make(chan struct{}), make(chan struct{})
	e.lost, e.stopMon, e.monDone = lost, cancel, done
	go e.monitor(ctx, k, rev, from, lost, done)
}

// monitor closes lost when the leader key k (created at rev) is deleted,
// the session ends, the watch is lost, or ctx is canceled.
func (e *Election) monitor(ctx context.Context, k string, rev, from int64, lost, done chan struct{}) {
	defer close(done)
	defer close(lost)
	for {
		wctx, cancel := context.WithCancel(ctx)
		wch := e.s.client.Watch(wctx, k, keel.WithRev(from), keel.WithFilterPut())
		again := false
		for !again {
			select {
			case <-ctx.Done():
				cancel()
				return
			case <-e.s.Done():
				cancel()
				return
			case wr, ok := <-wch:
				switch {
				case !ok, wr.Canceled && wr.CompactRevision == 0, len(wr.Events) > 0:
					cancel()
					return
				case wr.CompactRevision != 0:
					gr, err := e.s.client.Get(ctx, k)
					if err != nil || len(gr.Kvs) == 0 || gr.Kvs[0].CreateRevision != rev {
						cancel()
						return
					}
					from, again = gr.Header.Revision+1, true
				}
			}
		}
		cancel()
	}
}

// stopMonitorLocked ends the current leadership's monitor and waits for
// it, so Done is closed on return. e.mu must be held.
func (e *Election) stopMonitorLocked() {
	if e.stopMon != nil {
		e.stopMon()
		<-e.monDone
		e.stopMon, e.monDone = nil, nil
	}
}

func (e *Election) clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopMonitorLocked()
	e.leaderKey, e.leading, e.resumed = "", false, false
}

// withdraw deletes the candidate's key after a failed campaign, unless it
// was replaced, so no stale candidacy is left behind.
func (e *Election) withdraw(k string, rev int64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(e.s.ttl)*time.Second)
	defer cancel()
	_, _ = e.s.client.Txn(ctx).
		If(keel.Compare(keel.CreateRevision(k), "=", rev)).
		Then(keel.OpDelete(k)).Commit()
	e.clear()
}

// Proclaim replaces the leader's value without a new election. It returns
// ErrElectionNotLeader (unwrapped) if this Election does not hold the
// leader key, and, unlike etcd, ErrSessionExpired if its session has
// ended.
func (e *Election) Proclaim(ctx context.Context, val string) error {
	e.mu.Lock()
	k, rev, leading := e.leaderKey, e.leaderRev, e.leading
	e.mu.Unlock()
	if !leading {
		return ErrElectionNotLeader
	}
	select {
	case <-e.s.Done():
		return ErrSessionExpired
	default:
	}
	resp, err := e.s.client.Txn(ctx).
		If(keel.Compare(keel.CreateRevision(k), "=", rev)).
		Then(keel.OpPut(k, val, keel.WithLease(e.s.Lease()))).
		Commit()
	if err != nil {
		return leaseErr(err)
	}
	if !resp.Succeeded {
		e.clear()
		return ErrElectionNotLeader
	}
	e.mu.Lock()
	e.hdr = resp.Header
	e.mu.Unlock()
	return nil
}

// Resign gives up leadership (or a pending candidacy) by deleting the
// leader key, so the next candidate is elected. As in etcd, it returns nil
// if this Election holds no candidacy or its key was already gone (the
// leadership had been lost). Unlike etcd, on an error the state is kept,
// so Resign can be retried. Done is closed when it returns nil.
func (e *Election) Resign(ctx context.Context) error {
	e.mu.Lock()
	k, rev, leading := e.leaderKey, e.leaderRev, e.leading
	e.mu.Unlock()
	if !leading {
		return nil
	}
	resp, err := e.s.client.Txn(ctx).
		If(keel.Compare(keel.CreateRevision(k), "=", rev)).
		Then(keel.OpDelete(k)).Commit()
	if err != nil {
		return err
	}
	e.clear()
	e.mu.Lock()
	e.hdr = resp.Header
	e.mu.Unlock()
	return nil
}

// Leader returns the current leader's key-value pair (the key with the
// lowest CreateRevision under the prefix), or ErrElectionNoLeader.
func (e *Election) Leader(ctx context.Context) (*keel.GetResponse, error) {
	if e.pfx == "/" {
		return nil, ErrEmptyPrefix
	}
	resp, err := e.s.client.Get(ctx, e.pfx, keel.WithFirstCreate()...)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrElectionNoLeader
	}
	return resp, nil
}

// Done returns a channel that is closed when the leadership won by the
// last successful Campaign (or claimed by ResumeElection) ends: the leader
// key was deleted (Resign, session expiry, anyone deleting it), the
// session ended, or the watch on the key was lost (for example the store
// closed). When this Election is not the leader, the returned channel is
// already closed. etcd has no such method.
func (e *Election) Done() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.resumed && e.lost == nil {
		e.monitorLocked(e.leaderKey, e.leaderRev, e.leaderRev+1)
	}
	if e.lost == nil || !e.leading {
		c := make(chan struct{})
		close(c)
		return c
	}
	return e.lost
}

// IsLeader returns a compare that holds while this Election's leadership
// is current: put it in the If of a Txn to make a write conditional on
// still leading. etcd has no such method (its users build the same
// compare from Key and Rev).
func (e *Election) IsLeader() keel.Cmp {
	e.mu.Lock()
	defer e.mu.Unlock()
	return keel.Compare(keel.CreateRevision(e.leaderKey), "=", e.leaderRev)
}

// Key returns the candidate's key while it campaigns or leads, "" otherwise.
func (e *Election) Key() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leaderKey
}

// Rev returns the CreateRevision of the candidate's key: once elected, the
// fencing token of this leadership, strictly greater than every earlier
// leader's.
func (e *Election) Rev() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leaderRev
}

// Header returns the response header of the last successful Campaign,
// Proclaim or Resign.
func (e *Election) Header() *keel.ResponseHeader {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hdr
}
