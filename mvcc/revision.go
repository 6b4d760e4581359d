package mvcc

import (
	"encoding/binary"
	"fmt"
)

// revision is a point in the store's history: main is the revision of the
// write transaction, sub the position of the change inside it.
type revision struct {
	main int64
	sub  int64
}

const (
	// revBytesLen is the length of an encoded revision: 8 bytes big-endian
	// main, '_', 8 bytes big-endian sub (etcd's encoding).
	revBytesLen = 8 + 1 + 8
	// markedRevBytesLen is the length of a revision key carrying a marker.
	markedRevBytesLen = revBytesLen + 1
	// markTombstone marks a key-bucket entry as a tombstone.
	markTombstone byte = 't'
)

// greaterThan reports whether a > b.
func (a revision) greaterThan(b revision) bool {
	if a.main != b.main {
		return a.main > b.main
	}
	return a.sub > b.sub
}

// revToBytes encodes rev as a key-bucket key, with a trailing tombstone
// marker when tombstone is true.
func revToBytes(rev revision, tombstone bool) []byte {
	return appendRev(make([]byte, 0, markedRevBytesLen), rev, tombstone)
}

// appendRev appends the bbolt key of rev (revToBytes) to b.
func appendRev(b []byte, rev revision, tombstone bool) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(rev.main))
	b = append(b, '_')
	b = binary.BigEndian.AppendUint64(b, uint64(rev.sub))
	if tombstone {
		b = append(b, markTombstone)
	}
	return b
}

// bytesToRev decodes a key-bucket key. It rejects anything that revToBytes
// cannot produce.
func bytesToRev(b []byte) (rev revision, tombstone bool, err error) {
	switch {
	case len(b) == revBytesLen:
	case len(b) == markedRevBytesLen && b[revBytesLen] == markTombstone:
		tombstone = true
	default:
		return revision{}, false, fmt.Errorf("%w: bad revision key length %d or marker", ErrCorruptRecord, len(b))
	}
	if b[8] != '_' {
		return revision{}, false, fmt.Errorf("%w: bad revision key separator", ErrCorruptRecord)
	}
	rev.main = int64(binary.BigEndian.Uint64(b[0:8]))
	rev.sub = int64(binary.BigEndian.Uint64(b[9:17]))
	if rev.main < 0 || rev.sub < 0 {
		return revision{}, false, fmt.Errorf("%w: negative revision", ErrCorruptRecord)
	}
	return rev, tombstone, nil
}
