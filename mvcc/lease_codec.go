package mvcc

import (
	"encoding/binary"
	"fmt"
)

// leaseFormatV1 is the first byte of every encoded lease record.
//
// A lease record is stored in the lease bucket under its ID, 8 bytes
// big-endian (so the bucket iterates in ID order), with the value
//
//	0x01 | varint TTL | varint RemainingTTL
//
// and no trailing bytes. The decoder accepts only what a Store can hold:
// ID > 0, TTL > 0, RemainingTTL >= 0.
const leaseFormatV1 byte = 0x01

// leaseKeyLen is the length of a lease bucket key.
const leaseKeyLen = 8

// leaseKey returns the lease bucket key of id.
func leaseKey(id int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, leaseKeyLen), uint64(id))
}

// encodeLeaseValue returns the lease bucket value of rec (its ID is the key).
func encodeLeaseValue(rec LeaseRecord) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64)
	b = append(b, leaseFormatV1)
	b = binary.AppendVarint(b, rec.TTL)
	return binary.AppendVarint(b, rec.RemainingTTL)
}

// decodeLeaseRecord decodes a lease bucket entry. Errors wrap
// ErrCorruptRecord.
func decodeLeaseRecord(k, v []byte) (LeaseRecord, error) {
	if len(k) != leaseKeyLen {
		return LeaseRecord{}, fmt.Errorf("%w: lease key length %d", ErrCorruptRecord, len(k))
	}
	rec := LeaseRecord{ID: int64(binary.BigEndian.Uint64(k))}
	if len(v) == 0 || v[0] != leaseFormatV1 {
		return LeaseRecord{}, fmt.Errorf("%w: unknown lease record format", ErrCorruptRecord)
	}
	d := kvDecoder{b: v[1:]}
	rec.TTL = d.varint()
	rec.RemainingTTL = d.varint()
	switch {
	case d.err != nil:
		return LeaseRecord{}, d.err
	case len(d.b) != 0:
		return LeaseRecord{}, fmt.Errorf("%w: %d trailing bytes in lease record", ErrCorruptRecord, len(d.b))
	case rec.ID <= 0 || rec.TTL <= 0 || rec.RemainingTTL < 0:
		return LeaseRecord{}, fmt.Errorf("%w: invalid lease record %+v", ErrCorruptRecord, rec)
	}
	return rec, nil
}
