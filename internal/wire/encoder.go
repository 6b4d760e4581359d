package wire

import "encoding/binary"

// Encoder appends values to Buf in the formats the package documents. The
// zero value is ready to use; set Buf to a presized slice (or one to
// reuse, truncated to length 0) to encode without allocating.
type Encoder struct {
	// Buf holds the encoded bytes. Every method appends to it.
	Buf []byte
}

// Byte appends v.
func (e *Encoder) Byte(v byte) { e.Buf = append(e.Buf, v) }

// Bool appends v as one byte, 1 for true and 0 for false.
func (e *Encoder) Bool(v bool) {
	var b byte
	if v {
		b = 1
	}
	e.Buf = append(e.Buf, b)
}

// Uvarint appends the minimal uvarint encoding of v.
func (e *Encoder) Uvarint(v uint64) { e.Buf = binary.AppendUvarint(e.Buf, v) }

// Varint appends the minimal zigzag varint encoding of v.
func (e *Encoder) Varint(v int64) { e.Buf = binary.AppendVarint(e.Buf, v) }

// Bytes appends v as a byte string: its length as a uvarint, then v. A nil
// and an empty v encode the same.
func (e *Encoder) Bytes(v []byte) {
	e.Buf = append(binary.AppendUvarint(e.Buf, uint64(len(v))), v...)
}
