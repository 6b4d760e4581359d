package lock

import (
	"context"
	"fmt"

	"github.com/keeldb/keel"
)

// STM is software transactional memory over Keel, as etcd's
// concurrency.STM: NewSTM runs a function against it that reads keys with
// Get and Rev and buffers writes with Put and Del, then commits the writes
// in one transaction guarded by what it read, running the function again
// when the guard fails. The isolation level decides what the guard checks.
//
// An STM is used only by the function NewSTM passes it to, and only for
// the duration of that call.
type STM interface {
	// Get returns the value of key[0] ("" if it does not exist) and puts it
	// in the read set; a key written in this attempt reads as written (""
	// if deleted), without a read. Unless key[0] was written, the other
	// keys that the attempt has neither read nor written are read too, in
	// the same round trip, as a prefetch for later Gets. Get with no keys
	// returns "". If the read fails, the attempt is aborted and NewSTM
	// returns the error: Get never returns it.
	Get(key ...string) string
	// Put buffers a put of key, committed with the attempt. opts are those
	// of keel.OpPut (keel.WithLease, for example).
	Put(key, val string, opts ...keel.OpOption)
	// Rev returns the ModRevision of key as read by this attempt (0 if it
	// does not exist), reading it into the read set first if needed. Writes
	// of this attempt do not change it.
	Rev(key string) int64
	// Del buffers a delete of key, committed with the attempt.
	Del(key string)
}

// Isolation is an STM's isolation level: what its reads see and which
// concurrent changes make its commit fail and the function run again.
// The levels and their rules are etcd's.
type Isolation int

const (
	// SerializableSnapshot, the default, is Serializable plus a check of
	// the write set: the commit also fails if a key it writes was changed
	// after the attempt's snapshot revision, even if the attempt never read
	// it. Nothing a committed attempt read or wrote changed between its
	// snapshot and its commit, so it takes effect as if at its snapshot.
	SerializableSnapshot Isolation = iota
	// Serializable pins every read of an attempt to one snapshot: the
	// first read is linearizable and defines the attempt's revision, and
	// later reads are served at that revision, so the function always sees
	// a consistent state. The commit fails if a key in the read set changed
	// since the snapshot; keys written without being read are not checked.
	// Committed attempts are serializable.
	Serializable
	// RepeatableReads reads each key at the member's current revision
	// (a serializable read: local, without a read-index round, so possibly
	// stale) and remembers it, so reading it again in the attempt returns
	// the same value. The commit fails if a key in the read set changed
	// since it was read, so committed attempts are serializable; but an
	// attempt may see keys from different revisions, a state that never
	// existed, before it fails.
	RepeatableReads
	// ReadCommitted reads like RepeatableReads but checks nothing: the
	// commit always applies, so the function runs exactly once, and
	// concurrent updates can be lost.
	ReadCommitted
)

// String returns the level's name as spelled in Go.
func (i Isolation) String() string {
	switch i {
	case SerializableSnapshot:
		return "SerializableSnapshot"
	case Serializable:
		return "Serializable"
	case RepeatableReads:
		return "RepeatableReads"
	case ReadCommitted:
		return "ReadCommitted"
	}
	return fmt.Sprintf("Isolation(%d)", int(i))
}

// STMOption configures NewSTM.
type STMOption func(*stmOptions)

type stmOptions struct {
	iso      Isolation
	ctx      context.Context
	prefetch []string
}

// WithIsolation sets the isolation level (default SerializableSnapshot).
func WithIsolation(lvl Isolation) STMOption {
	return func(o *stmOptions) { o.iso = lvl }
}

// WithAbortContext gives the STM a context: every read and commit is made
// with it, and once it ends the STM stops and NewSTM returns its error.
// The default context never ends.
func WithAbortContext(ctx context.Context) STMOption {
	return func(o *stmOptions) {
		if ctx != nil {
			o.ctx = ctx
		}
	}
}

// WithPrefetch names keys every attempt reads: they are read together, in
// one round trip, before the function runs, instead of one Get at a time.
func WithPrefetch(keys ...string) STMOption {
	return func(o *stmOptions) { o.prefetch = append(o.prefetch, keys...) }
}

// NewSTM runs apply against an STM on c, at the isolation level given
// WithIsolation (SerializableSnapshot by default), as etcd's
// concurrency.NewSTM: it runs apply, commits its writes in one transaction
// guarded by the level's conflict checks, and runs apply again, on a
// fresh attempt, until a commit applies. It returns that commit's
// response.
//
// If apply returns an error, nothing is written and NewSTM returns the
// error. If a read or the commit fails (for example because the abort
// context ended or the revision to read was compacted), NewSTM returns
// that error; a commit whose outcome is unknown (keel.ErrTimeout) may have
// applied. There is no limit on the number of attempts, and apply should
// have no effects other than through the STM, since it may run several
// times.
//
// Unlike etcd, apply runs on the caller's goroutine, so a panic in apply
// (other than the STM's own abort of a failed read) reaches the caller,
// who can recover it. c is usually a *keel.Store; any other
// implementation of keel.Client works too.
func NewSTM(c keel.Client, apply func(STM) error, so ...STMOption) (resp *keel.TxnResponse, err error) {
	o := stmOptions{iso: SerializableSnapshot, ctx: context.Background()}
	for _, opt := range so {
		if opt != nil {
			opt(&o)
		}
	}
	switch {
	case apply == nil:
		return nil, fmt.Errorf("%w: nil apply function", ErrInvalidSTM)
	case o.iso < SerializableSnapshot || o.iso > ReadCommitted:
		return nil, fmt.Errorf("%w: unknown isolation level %v", ErrInvalidSTM, o.iso)
	}
	s := &stm{client: c, ctx: o.ctx, iso: o.iso}
	defer func() {
		if r := recover(); r != nil {
			if a, ok := r.(stmAbort); ok && a.s == s {
				resp, err = nil, a.err
				return
			}
			panic(r)
		}
	}()
	for {
		s.reset()
		if len(o.prefetch) > 0 {
			s.Get(o.prefetch...)
		}
		if err := apply(s); err != nil {
			return nil, err
		}
		resp, err := s.commit()
		if err != nil || resp != nil {
			return resp, err
		}
	}
}

// NewSTMRepeatable runs apply at RepeatableReads.
//
// Deprecated: use NewSTM with WithAbortContext(ctx) and
// WithIsolation(RepeatableReads), as in etcd.
func NewSTMRepeatable(ctx context.Context, c keel.Client, apply func(STM) error) (*keel.TxnResponse, error) {
	return NewSTM(c, apply, WithAbortContext(ctx), WithIsolation(RepeatableReads))
}

// NewSTMSerializable runs apply at Serializable.
//
// Deprecated: use NewSTM with WithAbortContext(ctx) and
// WithIsolation(Serializable), as in etcd.
func NewSTMSerializable(ctx context.Context, c keel.Client, apply func(STM) error) (*keel.TxnResponse, error) {
	return NewSTM(c, apply, WithAbortContext(ctx), WithIsolation(Serializable))
}

// NewSTMReadCommitted runs apply at ReadCommitted.
//
// Deprecated: use NewSTM with WithAbortContext(ctx) and
// WithIsolation(ReadCommitted), as in etcd.
func NewSTMReadCommitted(ctx context.Context, c keel.Client, apply func(STM) error) (*keel.TxnResponse, error) {
	return NewSTM(c, apply, WithAbortContext(ctx), WithIsolation(ReadCommitted))
}
