package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
)

const (
	metaName    = "wal.meta"
	metaTmpName = "wal.meta.tmp"
	metaVersion = 1

	metaHeaderSize = 20
	segMetaSize    = 25
)

var metaMagic = [8]byte{'K', 'E', 'E', 'L', 'M', 'E', 'T', 'A'}

// segMeta is one segment as recorded in the meta file.
type segMeta struct {
	ID     uint64
	Base   uint64 // index of the first entry
	Last   uint64 // index of the last live entry; meaningful only when Sealed
	Sealed bool   // no more appends; entries after Last are ignored
}

// meta is the durable state that is not in the segments: the segment list,
// the head boundary and the stable-store keys. It is replaced atomically.
type meta struct {
	FirstIndex uint64 // entries below it are deleted (head truncation); 0 = none
	NextSegID  uint64
	Segs       []segMeta
	KV         map[string][]byte
	KVInt      map[string]uint64
}

func (m meta) clone() meta {
	c := m
	c.Segs = slices.Clone(m.Segs)
	c.KV = make(map[string][]byte, len(m.KV))
	for k, v := range m.KV {
		c.KV[k] = v
	}
	c.KVInt = make(map[string]uint64, len(m.KVInt))
	for k, v := range m.KVInt {
		c.KVInt[k] = v
	}
	return c
}

// Meta file layout (little endian):
//
//	0  magic    "KEELMETA"
//	8  version  u32 (1)
//	12 crc      u32  CRC32C of the body
//	16 bodyLen  u32
//	20 body: firstIndex u64, nextSegID u64,
//	         nSegs u32, nSegs × {id u64, base u64, last u64, sealed u8},
//	         nKV u32, nKV × {keyLen u32, key, valLen u32, val},
//	         nKVInt u32, nKVInt × {keyLen u32, key, val u64}
//	   keys sorted; nothing may follow the body.
func encodeMeta(m meta) []byte {
	body := make([]byte, 0, 64)
	body = binary.LittleEndian.AppendUint64(body, m.FirstIndex)
	body = binary.LittleEndian.AppendUint64(body, m.NextSegID)
	body = binary.LittleEndian.AppendUint32(body, uint32(len(m.Segs)))
	for _, s := range m.Segs {
		body = binary.LittleEndian.AppendUint64(body, s.ID)
		body = binary.LittleEndian.AppendUint64(body, s.Base)
		body = binary.LittleEndian.AppendUint64(body, s.Last)
		if s.Sealed {
			body = append(body, 1)
		} else {
			body = append(body, 0)
		}
	}
	keys := make([]string, 0, len(m.KV))
	for k := range m.KV {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	body = binary.LittleEndian.AppendUint32(body, uint32(len(keys)))
	for _, k := range keys {
		body = binary.LittleEndian.AppendUint32(body, uint32(len(k)))
		body = append(body, k...)
		body = binary.LittleEndian.AppendUint32(body, uint32(len(m.KV[k])))
		body = append(body, m.KV[k]...)
	}
	keys = keys[:0]
	for k := range m.KVInt {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	body = binary.LittleEndian.AppendUint32(body, uint32(len(keys)))
	for _, k := range keys {
		body = binary.LittleEndian.AppendUint32(body, uint32(len(k)))
		body = append(body, k...)
		body = binary.LittleEndian.AppendUint64(body, m.KVInt[k])
	}
	out := make([]byte, metaHeaderSize, metaHeaderSize+len(body))
	copy(out, metaMagic[:])
	binary.LittleEndian.PutUint32(out[8:], metaVersion)
	binary.LittleEndian.PutUint32(out[12:], crc32.Checksum(body, castagnoli))
	binary.LittleEndian.PutUint32(out[16:], uint32(len(body)))
	return append(out, body...)
}

var errBadMeta = errors.New("malformed meta file")

type metaReader struct {
	b   []byte
	err bool
}

func (r *metaReader) u64() uint64 {
	if len(r.b) < 8 {
		r.err = true
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *metaReader) u32() uint32 {
	if len(r.b) < 4 {
		r.err = true
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *metaReader) bytes() []byte {
	n := uint64(r.u32())
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// count reads an element count and checks that count elements of at least
// minSize bytes fit in what remains, so it never drives a huge allocation.
func (r *metaReader) count(minSize int) int {
	n := uint64(r.u32())
	if r.err || n*uint64(minSize) > uint64(len(r.b)) {
		r.err = true
		return 0
	}
	return int(n)
}

// decodeMeta parses a meta file. It never panics and never allocates more
// than a small multiple of len(b).
func decodeMeta(b []byte) (meta, error) {
	var m meta
	if len(b) < metaHeaderSize || [8]byte(b[0:8]) != metaMagic {
		return m, fmt.Errorf("%w: bad header", errBadMeta)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != metaVersion {
		return m, fmt.Errorf("%w: unsupported version %d", errBadMeta, v)
	}
	body := b[metaHeaderSize:]
	if uint64(binary.LittleEndian.Uint32(b[16:])) != uint64(len(body)) {
		return m, fmt.Errorf("%w: body length mismatch", errBadMeta)
	}
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[12:]) {
		return m, fmt.Errorf("%w: CRC mismatch", errBadMeta)
	}
	r := &metaReader{b: body}
	m.FirstIndex = r.u64()
	m.NextSegID = r.u64()
	n := r.count(segMetaSize)
	m.Segs = make([]segMeta, 0, n)
	for i := 0; i < n && !r.err; i++ {
		s := segMeta{ID: r.u64(), Base: r.u64(), Last: r.u64()}
		if len(r.b) < 1 || r.b[0] > 1 {
			r.err = true
			break
		}
		s.Sealed = r.b[0] == 1
		r.b = r.b[1:]
		m.Segs = append(m.Segs, s)
	}
	n = r.count(8)
	m.KV = make(map[string][]byte, n)
	for i := 0; i < n && !r.err; i++ {
		k := r.bytes()
		v := r.bytes()
		m.KV[string(k)] = slices.Clone(v)
	}
	n = r.count(12)
	m.KVInt = make(map[string]uint64, n)
	for i := 0; i < n && !r.err; i++ {
		k := r.bytes()
		m.KVInt[string(k)] = r.u64()
	}
	if r.err || len(r.b) != 0 {
		return meta{}, fmt.Errorf("%w: truncated or trailing bytes", errBadMeta)
	}
	if err := m.validate(); err != nil {
		return meta{}, err
	}
	return m, nil
}

// validate checks the segment list invariants: IDs increasing and below
// NextSegID, sealed segments non-empty and contiguous, only the last
// segment may be unsealed.
func (m meta) validate() error {
	for i, s := range m.Segs {
		if s.ID >= m.NextSegID || s.Base == 0 {
			return fmt.Errorf("%w: segment %d has bad ID or base", errBadMeta, i)
		}
		if i > 0 {
			p := m.Segs[i-1]
			if s.ID <= p.ID || s.Base != p.Last+1 {
				return fmt.Errorf("%w: segment %d not contiguous with its predecessor", errBadMeta, i)
			}
		}
		if s.Sealed && s.Last < s.Base {
			return fmt.Errorf("%w: sealed segment %d is empty", errBadMeta, i)
		}
		if !s.Sealed && i != len(m.Segs)-1 {
			return fmt.Errorf("%w: unsealed segment %d is not the last", errBadMeta, i)
		}
		if !s.Sealed && s.Last != 0 {
			return fmt.Errorf("%w: unsealed segment %d has a last index", errBadMeta, i)
		}
	}
	return nil
}

// writeMeta atomically replaces the meta file: write a temporary file,
// fsync it, rename it over the old one, fsync the directory.
func writeMeta(fsys FS, dir string, m meta, noSync bool) error {
	tmp := filepath.Join(dir, metaTmpName)
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(encodeMeta(m), 0)
	if err == nil && !noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, metaName)); err != nil {
		return err
	}
	if noSync {
		return nil
	}
	return fsys.SyncDir(dir)
}

// readFile reads a whole file through fsys.
func readFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if n == len(b) {
		return b, nil
	}
	return nil, err
}
