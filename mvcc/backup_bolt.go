package mvcc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// checkBoltFile checks, before bbolt opens path, that the database's meta
// pages describe a database the file can hold. bbolt maps the file and
// trusts the meta page: a meta page that claims more pages than the file
// has (a truncated database) makes Open read past the end of the file,
// which is a fatal SIGBUS, not an error. Files written by Snapshot always
// pass; this guards RestoreBackup against a backup whose framing is intact
// but whose database is not (written by something else, or damaged before
// it was framed).
//
// The layout is bbolt's (format version 2, native byte order): a page
// starts with a 16-byte header (id u64, flags u16, count u16, overflow
// u32); pages 0 and 1 hold a meta after it: magic u32, version u32, page
// size u32, flags u32, root bucket (root page u64, sequence u64),
// freelist page u64, page count (high water mark) u64, txid u64, and an
// FNV-64a checksum of the fields before it.
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return checkBolt(f, fi.Size())
}

// checkBolt is checkBoltFile on a database of size bytes read from r.
func checkBolt(r io.ReaderAt, size int64) error {
	m0, err := readBoltMeta(r, 0)
	if err != nil {
		return err
	}
	if err := m0.check(r, size); err != nil {
		return err
	}
	m1, err := readBoltMeta(r, int64(m0.pageSize))
	if err != nil {
		return err
	}
	return m1.check(r, size)
}

const (
	boltPageHeaderSize = 16
	boltMetaSize       = 64
	boltMagic          = 0xED0CDAED
	boltVersion        = 2
	boltNoFreelist     = ^uint64(0)
)

type boltMeta struct {
	pageSize                 uint32
	root, freelist, pageHigh uint64
}

func readBoltMeta(f io.ReaderAt, off int64) (boltMeta, error) {
	var b [boltPageHeaderSize + boltMetaSize]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		if errors.Is(err, io.EOF) {
			return boltMeta{}, fmt.Errorf("%w: database too short for its meta pages", ErrCorruptSnapshot)
		}
		return boltMeta{}, err
	}
	m := b[boltPageHeaderSize:]
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(m[:56])
	switch {
	case ne.Uint32(m[0:]) != boltMagic:
		return boltMeta{}, fmt.Errorf("%w: not a bbolt database", ErrCorruptSnapshot)
	case ne.Uint32(m[4:]) != boltVersion:
		return boltMeta{}, fmt.Errorf("%w: bbolt format version %d", ErrCorruptSnapshot, ne.Uint32(m[4:]))
	case ne.Uint64(m[56:]) != h.Sum64():
		return boltMeta{}, fmt.Errorf("%w: bbolt meta page checksum", ErrCorruptSnapshot)
	}
	meta := boltMeta{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]), pageHigh: ne.Uint64(m[40:])}
	if meta.pageSize < 1024 || meta.pageSize > 1<<20 || meta.pageSize&(meta.pageSize-1) != 0 {
		return boltMeta{}, fmt.Errorf("%w: bbolt page size %d", ErrCorruptSnapshot, meta.pageSize)
	}
	return meta, nil
}

// check verifies that every page m refers to lies inside a file of size
// bytes, including the freelist's overflow pages.
func (m boltMeta) check(f io.ReaderAt, size int64) error {
	ps := uint64(m.pageSize)
	switch {
	case m.pageHigh < 3 || m.pageHigh > uint64(size)/ps:
		return fmt.Errorf("%w: database claims %d pages of %d bytes, the file is %d bytes", ErrCorruptSnapshot, m.pageHigh, ps, size)
	case m.root < 2 || m.root >= m.pageHigh:
		return fmt.Errorf("%w: root page %d outside the database", ErrCorruptSnapshot, m.root)
	case m.freelist == boltNoFreelist:
		return nil
	case m.freelist < 2 || m.freelist >= m.pageHigh:
		return fmt.Errorf("%w: freelist page %d outside the database", ErrCorruptSnapshot, m.freelist)
	}
	var hdr [boltPageHeaderSize]byte
	if _, err := f.ReadAt(hdr[:], int64(m.freelist*ps)); err != nil {
		return err
	}
	if overflow := uint64(binary.NativeEndian.Uint32(hdr[12:])); m.freelist+overflow >= m.pageHigh {
		return fmt.Errorf("%w: freelist overflows the database", ErrCorruptSnapshot)
	}
	return nil
}
