package wal

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

// Entry payload layout (little endian), the body of an entry frame:
//
//	0  index      u64
//	8  term       u64
//	16 type       u8   (raft.LogType)
//	17 flags      u8   (bit0 AppendedAt set, bit1 Data nil, bit2 Extensions nil)
//	18 unix sec   i64  (AppendedAt; 0 when unset)
//	26 nanosec    u32  (< 1e9)
//	30 data len   u32
//	34 data
//	.. ext len    u32
//	.. extensions
const (
	entryFixedSize = 38

	flagAppendedAt = 1 << 0
	flagDataNil    = 1 << 1
	flagExtNil     = 1 << 2
	flagsKnown     = flagAppendedAt | flagDataNil | flagExtNil
)

var errBadEntry = errors.New("malformed entry payload")

// entrySize returns the encoded payload size of l.
func entrySize(l *raft.Log) int {
	return entryFixedSize + len(l.Data) + len(l.Extensions)
}

// appendEntry appends the encoding of l to dst.
func appendEntry(dst []byte, l *raft.Log) []byte {
	var flags byte
	var sec int64
	var nsec uint32
	if !l.AppendedAt.IsZero() {
		flags |= flagAppendedAt
		sec = l.AppendedAt.Unix()
		nsec = uint32(l.AppendedAt.Nanosecond())
	}
	if l.Data == nil {
		flags |= flagDataNil
	}
	if l.Extensions == nil {
		flags |= flagExtNil
	}
	dst = binary.LittleEndian.AppendUint64(dst, l.Index)
	dst = binary.LittleEndian.AppendUint64(dst, l.Term)
	dst = append(dst, byte(l.Type), flags)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(sec))
	dst = binary.LittleEndian.AppendUint32(dst, nsec)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	return dst
}

// checkEntry validates the structure of an entry payload without
// allocating and returns its index.
func checkEntry(p []byte) (uint64, error) {
	if len(p) < entryFixedSize {
		return 0, errBadEntry
	}
	flags := p[17]
	if flags&^flagsKnown != 0 {
		return 0, errBadEntry
	}
	if binary.LittleEndian.Uint32(p[26:30]) >= 1e9 {
		return 0, errBadEntry
	}
	if flags&flagAppendedAt == 0 && (binary.LittleEndian.Uint64(p[18:26]) != 0 || binary.LittleEndian.Uint32(p[26:30]) != 0) {
		return 0, errBadEntry
	}
	rest := p[30:]
	dlen := uint64(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	if dlen > uint64(len(rest)) || (flags&flagDataNil != 0 && dlen != 0) {
		return 0, errBadEntry
	}
	rest = rest[dlen:]
	if len(rest) < 4 {
		return 0, errBadEntry
	}
	elen := uint64(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	if elen != uint64(len(rest)) || (flags&flagExtNil != 0 && elen != 0) {
		return 0, errBadEntry
	}
	return binary.LittleEndian.Uint64(p[0:8]), nil
}

// decodeEntry decodes an entry payload into l. Data and Extensions alias p,
// so the caller must hand over ownership of p.
func decodeEntry(p []byte, l *raft.Log) error {
	if _, err := checkEntry(p); err != nil {
		return err
	}
	flags := p[17]
	l.Index = binary.LittleEndian.Uint64(p[0:8])
	l.Term = binary.LittleEndian.Uint64(p[8:16])
	l.Type = raft.LogType(p[16])
	l.AppendedAt = time.Time{}
	if flags&flagAppendedAt != 0 {
		l.AppendedAt = time.Unix(int64(binary.LittleEndian.Uint64(p[18:26])), int64(binary.LittleEndian.Uint32(p[26:30])))
	}
	rest := p[30:]
	dlen := int(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	l.Data = nil
	if flags&flagDataNil == 0 {
		l.Data = rest[:dlen:dlen]
	}
	rest = rest[dlen:]
	elen := int(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	l.Extensions = nil
	if flags&flagExtNil == 0 {
		l.Extensions = rest[:elen:elen]
	}
	return nil
}
