package watchload

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// StampBytes is the size of the stamp at the start of every value.
const StampBytes = 8

// Clock reads a monotonic clock as nanoseconds since its base. The zero
// value is not usable; use [NewClock]. A Clock is safe for concurrent use.
type Clock struct{ base time.Time }

// NewClock returns a Clock whose base is now.
func NewClock() Clock { return Clock{base: time.Now()} }

// Now returns the nanoseconds elapsed since the base (monotonic).
func (c Clock) Now() int64 { return int64(time.Since(c.base)) }

// EncodeStamp returns a value of size bytes: the big-endian stamp ns
// followed by padding. size must be at least StampBytes and ns must not be
// negative.
func EncodeStamp(ns int64, size int) (string, error) {
	if size < StampBytes || ns < 0 {
		return "", fmt.Errorf("%w: stamp %d in %d bytes", ErrInvalidParams, ns, size)
	}
	var b strings.Builder
	b.Grow(size)
	var s [StampBytes]byte
	binary.BigEndian.PutUint64(s[:], uint64(ns))
	b.Write(s[:])
	for b.Len() < size {
		b.WriteByte('v')
	}
	return b.String(), nil
}

// DecodeStamp returns the stamp at the start of v.
func DecodeStamp(v []byte) (int64, error) {
	if len(v) < StampBytes {
		return 0, fmt.Errorf("%w: %d bytes", ErrBadStamp, len(v))
	}
	ns := int64(binary.BigEndian.Uint64(v))
	if ns < 0 {
		return 0, fmt.Errorf("%w: negative stamp", ErrBadStamp)
	}
	return ns, nil
}
