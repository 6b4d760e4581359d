package keel

import (
	"encoding/binary"
	"fmt"
	"math"
)

// encoder appends primitive values to a byte slice. The formats built on
// it (commands, results, messages) are documented where they are defined.
type encoder struct{ b []byte }

func (e *encoder) byte(v byte)      { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bytes(v []byte) {
	e.uvarint(uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *encoder) bool(v bool) {
	if v {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

// decoder reads what encoder wrote. The first error sticks: every later
// read returns a zero value, and err reports it. Lengths and counts are
// checked against the bytes that remain before anything is allocated, so a
// forged length can neither panic nor allocate more than the input size.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or invalid %s", ErrCorruptCommand, what)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bool")
	return false
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		d.fail("uvarint") // overflow, truncation or a non-minimal encoding
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != uvarintLen(zigzag(v)) {
		d.fail("varint") // overflow, truncation or a non-minimal encoding
		return 0
	}
	d.b = d.b[n:]
	return v
}

// uvarintLen is the length of the minimal uvarint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// zigzag maps a signed value to the unsigned one binary.AppendVarint
// encodes.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// bytes returns a copy of a length-prefixed byte string; an empty string
// decodes as nil.
func (d *decoder) bytes() []byte {
	v := d.view()
	if v == nil {
		return nil
	}
	return append(make([]byte, 0, len(v)), v...)
}

// view is bytes without the copy: the result aliases the input (capacity
// clipped, so appending to it cannot write into the input). For inputs
// nothing modifies while the result is used, such as a raft entry's Data
// during apply.
func (d *decoder) view() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length")
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// count reads an element count; each element takes at least minSize bytes,
// so a count larger than the remaining input allows is rejected.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) || n > math.MaxInt32 {
		d.fail("count")
		return 0
	}
	return int(n)
}

// done fails unless every byte was consumed.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}
