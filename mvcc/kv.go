package mvcc

// KeyValue is one version of a key. KeyValues returned by this package are
// copies the caller owns: they never alias bbolt's memory-mapped pages or the
// store's internal state. Like any plain struct, a KeyValue is not
// synchronized: do not mutate one while another goroutine reads it.
type KeyValue struct {
	// Key is the key in bytes. An empty key is not allowed by Keel's API.
	Key []byte
	// Value is the value held by the key, in bytes. It is nil for KeysOnly
	// reads and delete events.
	Value []byte
	// CreateRevision is the revision of the last creation of this key
	// (the first put of its current generation). 0 means absent.
	CreateRevision int64
	// ModRevision is the revision of the last modification of this key.
	ModRevision int64
	// Version counts the puts since the key was (re)created; the first put
	// gives 1. A delete resets it to 0.
	Version int64
	// Lease is the ID of the lease attached to the key; 0 means none.
	Lease int64
}

// clone returns a deep copy of kv.
func (kv *KeyValue) clone() *KeyValue {
	if kv == nil {
		return nil
	}
	c := *kv
	if kv.Key == nil || kv.Value == nil {
		c.Key = cloneBytes(kv.Key)
		c.Value = cloneBytes(kv.Value)
		return &c
	}
	// Key and Value share one allocation, as decodeKeyValue's do.
	b := make([]byte, len(kv.Key)+len(kv.Value))
	n := copy(b, kv.Key)
	copy(b[n:], kv.Value)
	c.Key, c.Value = b[:n:n], b[n:]
	return &c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// EventType is the kind of a change: a put or a delete. The numbering is the
// same as etcd's mvccpb.Event_EventType.
type EventType int32

const (
	// EventTypePut is a put of a key.
	EventTypePut EventType = 0
	// EventTypeDelete is a deletion of a key (a tombstone).
	EventTypeDelete EventType = 1
)

// String returns "PUT" or "DELETE".
func (t EventType) String() string {
	switch t {
	case EventTypePut:
		return "PUT"
	case EventTypeDelete:
		return "DELETE"
	}
	return "UNKNOWN"
}

// Event is one change made by a write transaction.
//
// For a put, Kv is the new version and PrevKv the previous live version (nil
// if the key did not exist). For a delete, Kv carries only Key and
// ModRevision (the deletion revision), and PrevKv is the deleted version.
//
// Events are copies the caller owns (plain data, not synchronized).
type Event struct {
	// Type is EventTypePut or EventTypeDelete.
	Type EventType
	// Kv is the new version (put) or the key and deletion revision (delete).
	Kv *KeyValue
	// PrevKv is the version live before the change, or nil.
	PrevKv *KeyValue
}

// SortTarget selects the field a Range sorts by.
type SortTarget int32

const (
	// SortByKey sorts by key bytes.
	SortByKey SortTarget = iota
	// SortByVersion sorts by Version.
	SortByVersion
	// SortByCreateRevision sorts by CreateRevision.
	SortByCreateRevision
	// SortByModRevision sorts by ModRevision.
	SortByModRevision
	// SortByValue sorts by value bytes.
	SortByValue
)

// SortOrder is the direction of a Range sort.
type SortOrder int32

const (
	// SortNone keeps key order, except that with a SortTarget other than
	// SortByKey it sorts ascending, as in etcd: with a Limit and no
	// min/max filter, only the first Limit+1 keys in key order are sorted
	// (and the first Limit of them returned), not the whole range.
	SortNone SortOrder = iota
	// SortAscend sorts in ascending order.
	SortAscend
	// SortDescend sorts in descending order.
	SortDescend
)

// RangeOptions are the options of a Range. The zero value reads the latest
// revision with no limit, in key order.
type RangeOptions struct {
	// Rev is the revision to read at. <= 0 means the latest revision. A
	// revision below the compaction revision gives ErrCompacted, one above
	// the current revision gives ErrFutureRev; reading exactly at the
	// compaction revision is allowed.
	Rev int64
	// Limit caps the number of KVs returned; 0 means no limit.
	Limit int64
	// CountOnly returns only Count; KVs is nil.
	CountOnly bool
	// KeysOnly returns KVs without their Value.
	KeysOnly bool
	// SortTarget is the field to sort by.
	SortTarget SortTarget
	// SortOrder is the sort direction.
	SortOrder SortOrder
	// MinModRev filters out KVs with ModRevision < MinModRev; 0 = no filter.
	MinModRev int64
	// MaxModRev filters out KVs with ModRevision > MaxModRev; 0 = no filter.
	MaxModRev int64
	// MinCreateRev filters out KVs with CreateRevision < MinCreateRev; 0 = no filter.
	MinCreateRev int64
	// MaxCreateRev filters out KVs with CreateRevision > MaxCreateRev; 0 = no filter.
	MaxCreateRev int64
}

// RangeResult is the result of a Range; the caller owns it.
type RangeResult struct {
	// KVs are the matching key-values (nil for CountOnly).
	KVs []*KeyValue
	// Rev is the store's current revision at the time of the read (etcd's
	// header revision), not the requested one. Inside a write transaction
	// with changes, it is the transaction's revision.
	Rev int64
	// Count is the number of keys in the range at the read revision,
	// unaffected by Limit and by the min/max filters.
	Count int64
	// More is true when Limit cut off keys.
	More bool
}

// IsCreate reports whether e is a put that created its key
// (CreateRevision == ModRevision).
func (e *Event) IsCreate() bool {
	return e.Type == EventTypePut && e.Kv != nil && e.Kv.CreateRevision == e.Kv.ModRevision
}

// IsModify reports whether e is a put of a key that already existed
// (CreateRevision != ModRevision).
func (e *Event) IsModify() bool {
	return e.Type == EventTypePut && e.Kv != nil && e.Kv.CreateRevision != e.Kv.ModRevision
}
