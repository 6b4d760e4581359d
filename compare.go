package keel

import (
	"bytes"
	"fmt"
)

// CompareTarget is the field of a key a Cmp looks at.
type CompareTarget uint8

// Compare targets.
const (
	CompareVersion CompareTarget = iota
	CompareCreated
	CompareModified
	CompareValue
	CompareLease
)

// CompareResult is the relation a Cmp requires.
type CompareResult uint8

// Compare results.
const (
	CompareEqual CompareResult = iota
	CompareGreater
	CompareLess
	CompareNotEqual
)

// Cmp is one condition of a transaction's If. Build it with Value, Version,
// CreateRevision, ModRevision or LeaseValue and Compare:
//
//	keel.Compare(keel.ModRevision("k"), "=", rev)
//
// A Cmp over a range (WithRange, WithPrefix) holds when every key in the
// range satisfies it. On a missing key a value compare is always false;
// other targets compare against 0 (so CreateRevision(k) = 0 means "k does
// not exist").
type Cmp struct {
	key      []byte
	end      []byte
	target   CompareTarget
	result   CompareResult
	value    []byte
	intValue int64
	err      error
}

// Value compares the value of key.
func Value(key string) Cmp { return Cmp{key: []byte(key), target: CompareValue} }

// Version compares the version of key (0 if absent).
func Version(key string) Cmp { return Cmp{key: []byte(key), target: CompareVersion} }

// CreateRevision compares the create revision of key (0 if absent).
func CreateRevision(key string) Cmp { return Cmp{key: []byte(key), target: CompareCreated} }

// ModRevision compares the modification revision of key (0 if absent).
func ModRevision(key string) Cmp { return Cmp{key: []byte(key), target: CompareModified} }

// LeaseValue compares the lease ID attached to key (0 if none or absent).
func LeaseValue(key string) Cmp { return Cmp{key: []byte(key), target: CompareLease} }

// Compare completes cmp with an operator ("=", "!=", "<", ">") and the value
// to compare against: a string for Value, an int, int64 or LeaseID for the
// others. A bad operator or value type makes the transaction fail with
// ErrInvalidOption.
func Compare(cmp Cmp, result string, v any) Cmp {
	switch result {
	case "=":
		cmp.result = CompareEqual
	case "!=":
		cmp.result = CompareNotEqual
	case ">":
		cmp.result = CompareGreater
	case "<":
		cmp.result = CompareLess
	default:
		cmp.err = fmt.Errorf("%w: unknown compare operator %q", ErrInvalidOption, result)
		return cmp
	}
	if cmp.target == CompareValue {
		s, ok := v.(string)
		if !ok {
			cmp.err = fmt.Errorf("%w: value compare needs a string, got %T", ErrInvalidOption, v)
			return cmp
		}
		cmp.value = []byte(s)
		return cmp
	}
	switch n := v.(type) {
	case int:
		cmp.intValue = int64(n)
	case int64:
		cmp.intValue = n
	case LeaseID:
		cmp.intValue = int64(n)
	default:
		cmp.err = fmt.Errorf("%w: compare needs an integer, got %T", ErrInvalidOption, v)
	}
	return cmp
}

// WithRange makes the compare apply to every key in [key, end).
func (c Cmp) WithRange(end string) Cmp {
	c.end = []byte(end)
	return c
}

// WithPrefix makes the compare apply to every key starting with its key.
func (c Cmp) WithPrefix() Cmp {
	if len(c.key) == 0 {
		c.key, c.end = []byte{0}, []byte{0}
		return c
	}
	c.end = prefixEnd(c.key)
	return c
}

// KeyBytes returns the key the compare looks at.
func (c Cmp) KeyBytes() []byte { return c.key }

// RangeEnd returns the end of the compared range (nil for a single key).
func (c Cmp) RangeEnd() []byte { return c.end }

// Target returns what the compare looks at.
func (c Cmp) Target() CompareTarget { return c.target }

// Result returns the relation the compare requires.
func (c Cmp) Result() CompareResult { return c.result }

// ValueBytes returns the value a Value compare compares against (nil for
// other targets).
func (c *Cmp) ValueBytes() []byte {
	if c.target != CompareValue {
		return nil
	}
	return c.value
}

// WithKeyBytes sets the key the compare looks at.
func (c *Cmp) WithKeyBytes(key []byte) { c.key = key }

// WithValueBytes sets the value a Value compare compares against.
func (c *Cmp) WithValueBytes(v []byte) { c.value = v }

// Clone returns a copy of c that shares no memory with it.
func (c Cmp) Clone() Cmp {
	c.key = bytes.Clone(c.key)
	c.end = bytes.Clone(c.end)
	c.value = bytes.Clone(c.value)
	return c
}

// holds reports whether kv satisfies c. A nil kv is an absent key.
func (c *Cmp) holds(kv *KeyValue) bool {
	if kv == nil {
		if c.target == CompareValue {
			return false
		}
		kv = &KeyValue{}
	}
	var r int
	switch c.target {
	case CompareValue:
		r = bytes.Compare(kv.Value, c.value)
	case CompareVersion:
		r = cmpInt(kv.Version, c.intValue)
	case CompareCreated:
		r = cmpInt(kv.CreateRevision, c.intValue)
	case CompareModified:
		r = cmpInt(kv.ModRevision, c.intValue)
	case CompareLease:
		r = cmpInt(kv.Lease, c.intValue)
	}
	switch c.result {
	case CompareEqual:
		return r == 0
	case CompareNotEqual:
		return r != 0
	case CompareGreater:
		return r > 0
	case CompareLess:
		return r < 0
	}
	return false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
