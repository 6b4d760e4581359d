package keel

import (
	"fmt"

	"github.com/keeldb/keel/mvcc"
)

// SortTarget selects the field WithSort orders by.
type SortTarget = mvcc.SortTarget

// SortOrder selects the direction WithSort orders in.
type SortOrder = mvcc.SortOrder

// Sort targets and orders, as in clientv3.
const (
	SortByKey            = mvcc.SortByKey
	SortByVersion        = mvcc.SortByVersion
	SortByCreateRevision = mvcc.SortByCreateRevision
	SortByModRevision    = mvcc.SortByModRevision
	SortByValue          = mvcc.SortByValue

	SortNone    = mvcc.SortNone
	SortAscend  = mvcc.SortAscend
	SortDescend = mvcc.SortDescend
)

type opType uint8

const (
	tRange opType = iota + 1
	tPut
	tDeleteRange
	tTxn
)

// Op is one operation: a get, put, delete or transaction. Build it with
// OpGet, OpPut, OpDelete or OpTxn and run it with Do or inside a Txn. An Op
// is a value; it is safe to reuse and share.
type Op struct {
	t   opType
	key []byte
	end []byte

	// range
	limit        int64
	sortTarget   SortTarget
	sortOrder    SortOrder
	serializable bool
	keysOnly     bool
	countOnly    bool
	minModRev    int64
	maxModRev    int64
	minCreateRev int64
	maxCreateRev int64
	rev          int64 // range, watch

	// put, delete, watch
	prevKV bool

	// put
	val         []byte
	leaseID     LeaseID
	ignoreValue bool
	ignoreLease bool

	// watch
	progressNotify bool
	createdNotify  bool
	filterPut      bool
	filterDelete   bool
	fragment       bool

	// txn
	cmps    []Cmp
	thenOps []Op
	elseOps []Op

	isPrefix  bool
	isFromKey bool

	// set names the options that were given, to reject misplaced ones.
	set optionSet
	// err records a misuse detected while building; it is returned when
	// the op is run.
	err error
}

// optionSet records which options were applied to an Op.
type optionSet uint32

const (
	optLimit optionSet = 1 << iota
	optSort
	optSerializable
	optKeysOnly
	optCountOnly
	optRevFilter
	optRev
	optRange
	optPrevKV
	optLease
	optIgnore
	optWatchOnly
)

// OpOption configures an Op.
type OpOption func(*Op)

// withOptions returns op with opts applied. Options take a pointer, which
// moves the Op they see to the heap; keeping that in this function keeps
// an Op built without options on its caller's stack (a Get without options
// allocates no Op).
func withOptions(op Op, opts []OpOption) Op {
	op.apply(opts)
	return op
}

// OpGet returns a get operation. See KV.Get for the options.
func OpGet(key string, opts ...OpOption) Op {
	op := Op{t: tRange, key: []byte(key)}
	if len(opts) > 0 {
		op = withOptions(op, opts)
	}
	if op.isPrefix && op.isFromKey {
		op.fail("WithPrefix and WithFromKey cannot be combined")
	}
	op.reject(optPrevKV|optLease|optIgnore|optWatchOnly, "get")
	return op
}

// OpDelete returns a delete operation. Options: WithRange, WithPrefix,
// WithFromKey, WithPrevKV.
func OpDelete(key string, opts ...OpOption) Op {
	op := Op{t: tDeleteRange, key: []byte(key)}
	if len(opts) > 0 {
		op = withOptions(op, opts)
	}
	if op.isPrefix && op.isFromKey {
		op.fail("WithPrefix and WithFromKey cannot be combined")
	}
	op.reject(optLimit|optSort|optSerializable|optKeysOnly|optCountOnly|optRevFilter|optRev|optLease|optIgnore|optWatchOnly, "delete")
	return op
}

// OpPut returns a put operation. Options: WithLease, WithPrevKV,
// WithIgnoreValue, WithIgnoreLease.
func OpPut(key, val string, opts ...OpOption) Op {
	op := Op{t: tPut, key: []byte(key), val: []byte(val)}
	if len(opts) > 0 {
		op = withOptions(op, opts)
	}
	op.reject(optLimit|optSort|optSerializable|optKeysOnly|optCountOnly|optRevFilter|optRev|optRange|optWatchOnly, "put")
	return op
}

// OpTxn returns a transaction operation, for nesting inside a Txn or for
// Do: if every compare in cmps holds, thenOps run, else elseOps.
func OpTxn(cmps []Cmp, thenOps []Op, elseOps []Op) Op {
	return Op{t: tTxn, cmps: cmps, thenOps: thenOps, elseOps: elseOps}
}

func (op *Op) apply(opts []OpOption) {
	for _, o := range opts {
		if o != nil {
			o(op)
		}
	}
}

func (op *Op) fail(format string, args ...any) {
	if op.err == nil {
		op.err = fmt.Errorf("%w: %s", ErrInvalidOption, fmt.Sprintf(format, args...))
	}
}

func (op *Op) reject(bad optionSet, kind string) {
	if op.set&bad != 0 {
		op.fail("option does not apply to %s", kind)
	}
}

// IsGet reports whether op is a get.
func (op Op) IsGet() bool { return op.t == tRange }

// IsPut reports whether op is a put.
func (op Op) IsPut() bool { return op.t == tPut }

// IsDelete reports whether op is a delete.
func (op Op) IsDelete() bool { return op.t == tDeleteRange }

// IsTxn reports whether op is a transaction.
func (op Op) IsTxn() bool { return op.t == tTxn }

// Txn returns the compares and branches of a transaction op.
func (op Op) Txn() ([]Cmp, []Op, []Op) { return op.cmps, op.thenOps, op.elseOps }

// KeyBytes returns the key of op.
func (op Op) KeyBytes() []byte { return op.key }

// RangeBytes returns the range end of op (nil for a single key).
func (op Op) RangeBytes() []byte { return op.end }

// ValueBytes returns the value of a put op.
func (op Op) ValueBytes() []byte { return op.val }

// Rev returns the revision a get op reads at (0 = latest).
func (op Op) Rev() int64 { return op.rev }

// IsSerializable reports whether a get op was built WithSerializable.
func (op Op) IsSerializable() bool { return op.serializable }

// IsKeysOnly reports whether a get op was built WithKeysOnly.
func (op Op) IsKeysOnly() bool { return op.keysOnly }

// IsCountOnly reports whether a get op was built WithCountOnly.
func (op Op) IsCountOnly() bool { return op.countOnly }

// Limit returns the limit of a get op (0 = none).
func (op Op) Limit() int64 { return op.limit }

// IsSortSet reports whether a get op was built WithSort.
func (op Op) IsSortSet() bool { return op.set&optSort != 0 }

// IsSortOptionValid reports whether the op's sort target and order exist;
// a get with an invalid one fails with ErrInvalidSortOption.
func (op Op) IsSortOptionValid() bool {
	return op.sortTarget >= SortByKey && op.sortTarget <= SortByValue &&
		op.sortOrder >= SortNone && op.sortOrder <= SortDescend
}

// IsOptsWithPrefix reports whether the op was built WithPrefix.
func (op Op) IsOptsWithPrefix() bool { return op.isPrefix }

// IsOptsWithFromKey reports whether the op was built WithFromKey.
func (op Op) IsOptsWithFromKey() bool { return op.isFromKey }

// IsPrevKV reports whether the op was built WithPrevKV.
func (op Op) IsPrevKV() bool { return op.prevKV }

// IsFragment reports whether a watch op was built WithFragment.
func (op Op) IsFragment() bool { return op.fragment }

// IsProgressNotify reports whether a watch op was built
// WithProgressNotify.
func (op Op) IsProgressNotify() bool { return op.progressNotify }

// IsCreatedNotify reports whether a watch op was built WithCreatedNotify.
func (op Op) IsCreatedNotify() bool { return op.createdNotify }

// IsFilterPut reports whether a watch op was built WithFilterPut.
func (op Op) IsFilterPut() bool { return op.filterPut }

// IsFilterDelete reports whether a watch op was built WithFilterDelete.
func (op Op) IsFilterDelete() bool { return op.filterDelete }

// MinModRev returns the WithMinModRev filter of a get op (0 = none).
func (op Op) MinModRev() int64 { return op.minModRev }

// MaxModRev returns the WithMaxModRev filter of a get op (0 = none).
func (op Op) MaxModRev() int64 { return op.maxModRev }

// MinCreateRev returns the WithMinCreateRev filter of a get op (0 = none).
func (op Op) MinCreateRev() int64 { return op.minCreateRev }

// MaxCreateRev returns the WithMaxCreateRev filter of a get op (0 = none).
func (op Op) MaxCreateRev() int64 { return op.maxCreateRev }

// WithKeyBytes sets the key of op.
func (op *Op) WithKeyBytes(key []byte) { op.key = key }

// WithRangeBytes sets the range end of op (nil for a single key).
func (op *Op) WithRangeBytes(end []byte) { op.end = end }

// WithValueBytes sets the value of a put op.
func (op *Op) WithValueBytes(v []byte) { op.val = v }

// NewOp returns an empty Op with no type, as clientv3's NewOp does: for
// IsOptsWithPrefix and the like to apply options to. Running it fails with
// ErrInvalidOption.
func NewOp() *Op { return &Op{key: []byte{}} }

// IsOptsWithPrefix reports whether opts include WithPrefix.
func IsOptsWithPrefix(opts []OpOption) bool { return withOptions(*NewOp(), opts).isPrefix }

// IsOptsWithFromKey reports whether opts include WithFromKey.
func IsOptsWithFromKey(opts []OpOption) bool { return withOptions(*NewOp(), opts).isFromKey }

// WithLease attaches the key of a put to lease id.
func WithLease(id LeaseID) OpOption {
	return func(op *Op) { op.leaseID = id; op.set |= optLease }
}

// WithLimit limits the number of keys a get returns; 0 means no limit.
func WithLimit(n int64) OpOption {
	return func(op *Op) { op.limit = n; op.set |= optLimit }
}

// WithRev makes a get read at revision rev (0 = latest). Reading below the
// compacted revision fails with ErrCompacted, above the current one with
// ErrFutureRev. For a watch it is the start revision (see Store.Watch).
func WithRev(rev int64) OpOption {
	return func(op *Op) { op.rev = rev; op.set |= optRev }
}

// SortOption is a sort target and order, as clientv3's SortOption.
type SortOption struct {
	Target SortTarget
	Order  SortOrder
}

// WithSort orders the result of a get, with etcd's rules:
//
//   - SortByKey with SortNone or SortAscend is key order, the default,
//     which costs nothing.
//   - Any target with SortAscend or SortDescend (but SortByKey with
//     SortAscend) sorts the whole range, then applies WithLimit.
//   - A target other than SortByKey with SortNone sorts ascending, but,
//     with WithLimit(n) and no min/max revision filter, only the first n+1
//     keys of the range in key order are sorted, and the first n of those
//     are returned: not the n smallest of the range. This is etcd's
//     behaviour, kept so results match etcd's; use SortAscend for the n
//     smallest.
//
// Keys whose sort fields are equal stay in key order (etcd leaves their
// order unspecified). An unknown target or order makes the get fail with
// ErrInvalidSortOption.
func WithSort(target SortTarget, order SortOrder) OpOption {
	return func(op *Op) {
		if target == SortByKey && order == SortAscend {
			order = SortNone // results come in key order already
		}
		op.sortTarget, op.sortOrder = target, order
		op.set |= optSort
	}
}

// GetPrefixRangeEnd returns the range end that, with prefix as the key,
// selects every key starting with prefix.
func GetPrefixRangeEnd(prefix string) string {
	return string(prefixEnd([]byte(prefix)))
}

// prefixEnd increments the last byte below 0xff and drops the rest; with no
// such byte it returns "\x00" (every key from the key on).
func prefixEnd(key []byte) []byte {
	end := append([]byte(nil), key...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}

// WithPrefix makes the op act on every key starting with its key. With an
// empty key it selects all keys.
func WithPrefix() OpOption {
	return func(op *Op) {
		op.isPrefix = true
		op.set |= optRange
		if len(op.key) == 0 {
			op.key, op.end = []byte{0}, []byte{0}
			return
		}
		op.end = prefixEnd(op.key)
	}
}

// WithRange makes the op act on the keys in [key, end).
func WithRange(end string) OpOption {
	return func(op *Op) { op.end = []byte(end); op.set |= optRange }
}

// WithFromKey makes the op act on every key greater than or equal to its
// key. With an empty key it selects all keys.
func WithFromKey() OpOption {
	return func(op *Op) {
		if len(op.key) == 0 {
			op.key = []byte{0}
		}
		op.end = []byte{0}
		op.isFromKey = true
		op.set |= optRange
	}
}

// WithSerializable makes a get read the serving member's local state with
// no network round trip. The result may be stale.
func WithSerializable() OpOption {
	return func(op *Op) { op.serializable = true; op.set |= optSerializable }
}

// WithKeysOnly makes a get return keys without values.
func WithKeysOnly() OpOption {
	return func(op *Op) { op.keysOnly = true; op.set |= optKeysOnly }
}

// WithCountOnly makes a get return only the count of keys.
func WithCountOnly() OpOption {
	return func(op *Op) { op.countOnly = true; op.set |= optCountOnly }
}

// WithMinModRev filters a get to keys with ModRevision >= rev.
func WithMinModRev(rev int64) OpOption {
	return func(op *Op) { op.minModRev = rev; op.set |= optRevFilter }
}

// WithMaxModRev filters a get to keys with ModRevision <= rev.
func WithMaxModRev(rev int64) OpOption {
	return func(op *Op) { op.maxModRev = rev; op.set |= optRevFilter }
}

// WithMinCreateRev filters a get to keys with CreateRevision >= rev.
func WithMinCreateRev(rev int64) OpOption {
	return func(op *Op) { op.minCreateRev = rev; op.set |= optRevFilter }
}

// WithMaxCreateRev filters a get to keys with CreateRevision <= rev.
func WithMaxCreateRev(rev int64) OpOption {
	return func(op *Op) { op.maxCreateRev = rev; op.set |= optRevFilter }
}

// WithFirstCreate returns the options to get the key with the lowest
// CreateRevision in the range.
func WithFirstCreate() []OpOption { return withTop(SortByCreateRevision, SortAscend) }

// WithLastCreate returns the options to get the key with the highest
// CreateRevision in the range.
func WithLastCreate() []OpOption { return withTop(SortByCreateRevision, SortDescend) }

// WithFirstKey returns the options to get the lexically first key in the
// range.
func WithFirstKey() []OpOption { return withTop(SortByKey, SortAscend) }

// WithLastKey returns the options to get the lexically last key in the
// range.
func WithLastKey() []OpOption { return withTop(SortByKey, SortDescend) }

// WithFirstRev returns the options to get the key with the lowest
// ModRevision in the range.
func WithFirstRev() []OpOption { return withTop(SortByModRevision, SortAscend) }

// WithLastRev returns the options to get the key with the highest
// ModRevision in the range.
func WithLastRev() []OpOption { return withTop(SortByModRevision, SortDescend) }

func withTop(target SortTarget, order SortOrder) []OpOption {
	return []OpOption{WithPrefix(), WithSort(target, order), WithLimit(1)}
}

// WithPrevKV makes a put return the previous key-value pair, and a delete
// the deleted ones.
func WithPrevKV() OpOption {
	return func(op *Op) { op.prevKV = true; op.set |= optPrevKV }
}

// WithIgnoreValue makes a put keep the key's current value (only its lease
// or nothing changes). The key must exist (ErrKeyNotFound) and the value
// given must be empty (ErrValueProvided).
func WithIgnoreValue() OpOption {
	return func(op *Op) { op.ignoreValue = true; op.set |= optIgnore }
}

// WithIgnoreLease makes a put keep the key's current lease. The key must
// exist (ErrKeyNotFound) and WithLease must not be given
// (ErrLeaseProvided).
func WithIgnoreLease() OpOption {
	return func(op *Op) { op.ignoreLease = true; op.set |= optIgnore }
}

// WithProgressNotify makes a watch send periodic empty responses carrying
// the current revision.
func WithProgressNotify() OpOption {
	return func(op *Op) { op.progressNotify = true; op.set |= optWatchOnly }
}

// WithCreatedNotify makes a watch send a first response once it is set up.
func WithCreatedNotify() OpOption {
	return func(op *Op) { op.createdNotify = true; op.set |= optWatchOnly }
}

// WithFilterPut makes a watch drop put events.
func WithFilterPut() OpOption {
	return func(op *Op) { op.filterPut = true; op.set |= optWatchOnly }
}

// WithFilterDelete makes a watch drop delete events.
func WithFilterDelete() OpOption {
	return func(op *Op) { op.filterDelete = true; op.set |= optWatchOnly }
}

// WithFragment is accepted by Watch for clientv3's sake and changes
// nothing: etcd splits a watch response larger than its gRPC message
// limit into fragments with it, while Keel hands responses over in
// memory, whatever their size, and never splits one.
func WithFragment() OpOption {
	return func(op *Op) { op.fragment = true; op.set |= optWatchOnly }
}

// WithWatchBufLog is accepted by Watch for clientv3's sake and changes
// nothing: in etcd it makes the client log when a watcher's response
// buffer backs up; a Keel watcher whose consumer falls behind catches up
// from history instead (see Store.Watch).
func WithWatchBufLog() OpOption {
	return func(op *Op) { op.set |= optWatchOnly }
}
