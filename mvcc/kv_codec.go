package mvcc

import (
	"encoding/binary"
	"fmt"
)

// kvFormatV1 is the first byte of every encoded KeyValue.
//
// Layout (all integers varint-encoded with encoding/binary):
//
//	0x01 | uvarint len(Key) | Key | uvarint len(Value) | Value |
//	varint CreateRevision | varint ModRevision | varint Version | varint Lease
//
// There are no trailing bytes.
const kvFormatV1 byte = 0x01

// maxFieldLen bounds key and value lengths accepted by the decoder.
const maxFieldLen = 1 << 30

// encodeKeyValue returns the record stored in the key bucket for kv.
func encodeKeyValue(kv *KeyValue) []byte {
	return appendKeyValue(make([]byte, 0, encodedKeyValueMax(kv)), kv)
}

// encodedKeyValueMax bounds the size of kv's encoding.
func encodedKeyValueMax(kv *KeyValue) int {
	return 1 + 2*binary.MaxVarintLen64 + len(kv.Key) + len(kv.Value) + 4*binary.MaxVarintLen64
}

// appendKeyValue appends the encoding of kv to b.
func appendKeyValue(b []byte, kv *KeyValue) []byte {
	b = append(b, kvFormatV1)
	b = binary.AppendUvarint(b, uint64(len(kv.Key)))
	b = append(b, kv.Key...)
	b = binary.AppendUvarint(b, uint64(len(kv.Value)))
	b = append(b, kv.Value...)
	b = binary.AppendVarint(b, kv.CreateRevision)
	b = binary.AppendVarint(b, kv.ModRevision)
	b = binary.AppendVarint(b, kv.Version)
	b = binary.AppendVarint(b, kv.Lease)
	return b
}

// decodeKeyValue decodes a record produced by encodeKeyValue. The returned
// KeyValue owns its memory (it never aliases b), so b may be bbolt mmap
// memory. Key and Value are never nil after a successful decode.
func decodeKeyValue(b []byte) (*KeyValue, error) {
	kv := &KeyValue{}
	if err := decodeKeyValueView(b, kv); err != nil {
		return nil, err
	}
	// One allocation holds both, disjoint; each capacity ends at its
	// length, so an append to either copies instead of growing into the
	// other.
	buf := make([]byte, len(kv.Key)+len(kv.Value))
	n := copy(buf, kv.Key)
	copy(buf[n:], kv.Value)
	kv.Key, kv.Value = buf[:n:n], buf[n:]
	return kv, nil
}

// decodeKeyValueView decodes a record produced by encodeKeyValue into kv
// without allocating: kv.Key and kv.Value alias b, so they are valid only
// as long as b is (for bbolt memory, until its txn ends).
func decodeKeyValueView(b []byte, kv *KeyValue) error {
	if len(b) == 0 || b[0] != kvFormatV1 {
		return fmt.Errorf("%w: unknown KeyValue format", ErrCorruptRecord)
	}
	d := kvDecoder{b: b[1:]}
	kv.Key = d.view()
	kv.Value = d.view()
	kv.CreateRevision = d.varint()
	kv.ModRevision = d.varint()
	kv.Version = d.varint()
	kv.Lease = d.varint()
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes in KeyValue", ErrCorruptRecord, len(d.b))
	}
	return nil
}

type kvDecoder struct {
	b   []byte
	err error
}

// view returns the next length-prefixed field, aliasing d.b.
func (d *kvDecoder) view() []byte {
	if d.err != nil {
		return nil
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > maxFieldLen || n > uint64(len(d.b)-k) {
		d.err = fmt.Errorf("%w: bad length in KeyValue", ErrCorruptRecord)
		return nil
	}
	out := d.b[k : k+int(n) : k+int(n)]
	d.b = d.b[k+int(n):]
	return out
}

func (d *kvDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.err = fmt.Errorf("%w: bad integer in KeyValue", ErrCorruptRecord)
		return 0
	}
	d.b = d.b[k:]
	return v
}
