package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Decoder reads values from an input in the formats the package documents,
// accepting only minimal encodings. The first error sticks: the Decoder
// drops the rest of its input, every later read returns a zero value (nil
// for slices), and Err and Finish report that error. Errors wrap the base
// error given to NewDecoder.
//
// The zero Decoder has an empty input and wraps ErrMalformed.
type Decoder struct {
	b    []byte // input not yet read; nil after an error
	base error  // wrapped by every error
	err  error  // first error, sticky
}

// NewDecoder returns a Decoder reading b whose errors wrap base (errors.Is)
// and whose error texts start with base's text. A nil base means
// ErrMalformed. The Decoder never modifies b; View and Next return slices
// of it. NewDecoder inlines, so a Decoder that does not outlive its
// caller is allocated on the caller's stack.
func NewDecoder(b []byte, base error) *Decoder {
	return &Decoder{b: b, base: base}
}

// Fail records a format-level error, "<base>: <what>", unless an error is
// already recorded, and drops the rest of the input so that every later
// read returns a zero value. Formats call it for values the primitives
// accept but the format does not, such as an unknown kind byte.
func (d *Decoder) Fail(what string) {
	if d.err == nil {
		base := d.base
		if base == nil {
			base = ErrMalformed
		}
		d.err = fmt.Errorf("%w: %s", base, what)
	}
	d.b = nil
}

// Err returns the first error, or nil.
func (d *Decoder) Err() error { return d.err }

// Len returns the number of bytes not yet read (0 after an error).
func (d *Decoder) Len() int { return len(d.b) }

// Finish returns the first error, or an error if any input is left unread.
func (d *Decoder) Finish() error {
	if len(d.b) != 0 {
		d.failTrailing()
	}
	return d.err
}

// failTrailing records unread input. Kept out of line so that Finish
// inlines.
//
//go:noinline
func (d *Decoder) failTrailing() {
	d.Fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
}

// Byte reads one byte.
func (d *Decoder) Byte() (v byte) {
	if len(d.b) == 0 {
		return d.failByte()
	}
	v, d.b = d.b[0], d.b[1:]
	return v
}

// failByte records a missing byte. Kept out of line so that Byte inlines.
//
//go:noinline
func (d *Decoder) failByte() byte {
	d.Fail("truncated byte")
	return 0
}

// Peek returns the next byte without reading it; ok is false at the end of
// the input or after an error.
func (d *Decoder) Peek() (v byte, ok bool) {
	if len(d.b) == 0 {
		return 0, false
	}
	return d.b[0], true
}

// Bool reads a bool, failing on a byte other than 0 or 1.
func (d *Decoder) Bool() bool {
	if len(d.b) == 0 {
		d.Fail("truncated bool")
		return false
	}
	v := d.b[0]
	if v > 1 {
		d.Fail("bool not 0 or 1")
		return false
	}
	d.b = d.b[1:]
	return v == 1
}

// Uvarint reads a uvarint, failing on a truncated, overflowing or
// non-minimal one.
func (d *Decoder) Uvarint() uint64 { return d.uvarint("uvarint") }

// Varint reads a zigzag varint, failing on a truncated, overflowing or
// non-minimal one.
func (d *Decoder) Varint() int64 {
	u := d.uvarint("varint")
	return int64(u>>1) ^ -int64(u&1)
}

// uvarint reads a uvarint, or a varint's zigzag-mapped value; what names
// the primitive in an error.
func (d *Decoder) uvarint(what string) uint64 {
	b := d.b
	if len(b) != 0 && b[0] < 0x80 { // one byte: always minimal
		d.b = b[1:]
		return uint64(b[0])
	}
	v, n := binary.Uvarint(b) // b is empty after an error, so n is 0
	if n <= 0 || b[n-1] == 0 {
		d.failUvarint(what, n)
		return 0
	}
	d.b = b[n:]
	return v
}

// failUvarint records why binary.Uvarint's result of n bytes is refused.
func (d *Decoder) failUvarint(what string, n int) {
	switch {
	case d.err != nil: // recorded already; its input is dropped
	case n == 0:
		d.Fail("truncated " + what)
	case n < 0:
		d.Fail(what + " overflows 64 bits")
	default:
		// A last group of zero adds nothing: a shorter encoding exists.
		d.Fail("non-minimal " + what)
	}
}

// View reads a byte string and returns it without a copy: the result
// aliases the input, its capacity clipped to its length so that appending
// to it cannot write into the input. An empty string reads as nil. It
// fails if the length exceeds the bytes left.
func (d *Decoder) View() []byte {
	n := d.uvarint("length")
	if n > uint64(len(d.b)) {
		d.failLength(n)
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Bytes reads a byte string and returns a copy of it, its capacity equal
// to its length; an empty string reads as nil. It fails if the length
// exceeds the bytes left, before allocating.
func (d *Decoder) Bytes() []byte {
	v := d.View()
	if v == nil {
		return nil
	}
	// Exactly len(v): append's rounding up to a size class would cost
	// memory for every short key and value kept.
	return append(make([]byte, 0, len(v)), v...)
}

// Next reads the next n bytes, a fixed-size field, and returns them
// without a copy (capacity clipped, as View's). It fails if fewer than n
// bytes are left.
func (d *Decoder) Next(n int) []byte {
	if n < 0 || n > len(d.b) {
		if d.err == nil {
			d.Fail(fmt.Sprintf("truncated %d-byte field: %d bytes left", n, len(d.b)))
		}
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Count reads an element count, a uvarint, for a sequence whose elements
// take at least minSize bytes each. It fails if the bytes left cannot hold
// that many elements or the count exceeds math.MaxInt32, so a caller may
// allocate the elements before reading them when an element's in-memory
// size is a small multiple of minSize (the allocation stays a small
// multiple of the input); for larger elements, or a count read again at
// each level of a nested format, it should grow the slice as elements
// decode instead. minSize must be at least 1; Count panics otherwise (a
// programming error, not bad input).
func (d *Decoder) Count(minSize int) int {
	if minSize < 1 {
		panic(fmt.Sprintf("wire: Count(%d): minSize must be at least 1", minSize))
	}
	n := d.uvarint("count")
	if n > uint64(len(d.b)/minSize) || n > math.MaxInt32 {
		if d.err == nil {
			d.Fail(fmt.Sprintf("count %d of %d-byte elements exceeds the %d bytes left", n, minSize, len(d.b)))
		}
		return 0
	}
	return int(n)
}

// failLength records a length of n that exceeds the bytes left.
func (d *Decoder) failLength(n uint64) {
	if d.err == nil {
		d.Fail(fmt.Sprintf("length %d exceeds the %d bytes left", n, len(d.b)))
	}
}
