package mvcc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
)

// The backup format (see BackupHeader).
const (
	backupMagic      = "\x89KEELBK\n"
	backupVersion    = 1
	backupHeaderSize = 52
	backupSumSize    = sha256.Size
)

// BackupHeader describes a backup stream. A backup is a self-describing, checksummed image of a Store's database:
// a fixed header, the bbolt file that [Snapshot.WriteTo] writes, and a
// trailer. It is written in one pass (the body's size is known up front
// from the bbolt read txn) and verified in one pass.
//
//	header  (52 bytes, integers big-endian)
//	   0  magic             8 bytes  "\x89KEELBK\n"
//	   8  version           uint32   1
//	  12  flags             uint32   0 (none defined; readers refuse others)
//	  16  revision          int64    the database's current revision, >= 1
//	  24  compact revision  int64    its compaction revision, 0..revision
//	  32  consistent index  uint64   the raft index its data covers
//	  40  body size         uint64   bytes of bbolt file that follow
//	  48  header CRC        uint32   CRC-32C (Castagnoli) of bytes 0..47
//	body    (body size bytes)        the bbolt database file
//	trailer (32 bytes)               SHA-256 of header and body
//
// The stream ends after the trailer. The magic's first byte has its high
// bit set and it ends in a newline, so a transfer that strips the eighth
// bit or rewrites line endings is caught at once. The header CRC lets a
// reader refuse a damaged or foreign header before it reads the body; the
// SHA-256 catches any flipped, missing or extra byte anywhere else. It is
// a checksum, not an authenticator: whoever can write a backup can also
// recompute it.
type BackupHeader struct {
	// Version is the format version, 1.
	Version uint32
	// Revision is the current revision of the database in the backup.
	Revision int64
	// CompactRevision is its compaction revision (0: never compacted).
	CompactRevision int64
	// ConsistentIndex is the raft index the source member had applied.
	ConsistentIndex uint64
	// Size is the size of the body, the bbolt file, in bytes.
	Size int64
}

// BackupInfo is a verified backup's header and checksum.
type BackupInfo struct {
	BackupHeader
	// Checksum is the SHA-256 of the header and body (the trailer).
	Checksum [sha256.Size]byte
}

// appendBackupHeader appends h's encoding (with its CRC) to b.
func appendBackupHeader(b []byte, h BackupHeader) []byte {
	start := len(b)
	b = append(b, backupMagic...)
	b = binary.BigEndian.AppendUint32(b, h.Version)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Revision))
	b = binary.BigEndian.AppendUint64(b, uint64(h.CompactRevision))
	b = binary.BigEndian.AppendUint64(b, h.ConsistentIndex)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Size))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// parseBackupHeader decodes and checks a header. Errors wrap ErrBadBackup.
func parseBackupHeader(b []byte) (BackupHeader, error) {
	var h BackupHeader
	if len(b) < backupHeaderSize {
		return h, fmt.Errorf("%w: header is %d bytes, want %d (truncated)", ErrBadBackup, len(b), backupHeaderSize)
	}
	b = b[:backupHeaderSize]
	if !bytes.Equal(b[:8], []byte(backupMagic)) {
		return h, fmt.Errorf("%w: no backup magic: not a Keel backup", ErrBadBackup)
	}
	if got, want := binary.BigEndian.Uint32(b[48:]), crc32.Checksum(b[:48], castagnoli); got != want {
		return h, fmt.Errorf("%w: header checksum %08x, want %08x", ErrBadBackup, got, want)
	}
	h.Version = binary.BigEndian.Uint32(b[8:])
	if h.Version != backupVersion {
		return h, fmt.Errorf("%w: unsupported format version %d (this build reads %d)", ErrBadBackup, h.Version, backupVersion)
	}
	if flags := binary.BigEndian.Uint32(b[12:]); flags != 0 {
		return h, fmt.Errorf("%w: unknown flags %#x", ErrBadBackup, flags)
	}
	h.Revision = int64(binary.BigEndian.Uint64(b[16:]))
	h.CompactRevision = int64(binary.BigEndian.Uint64(b[24:]))
	h.ConsistentIndex = binary.BigEndian.Uint64(b[32:])
	size := binary.BigEndian.Uint64(b[40:])
	switch {
	case h.Revision < 1:
		return h, fmt.Errorf("%w: revision %d", ErrBadBackup, h.Revision)
	case h.CompactRevision < 0 || h.CompactRevision > h.Revision:
		return h, fmt.Errorf("%w: compact revision %d with revision %d", ErrBadBackup, h.CompactRevision, h.Revision)
	case size == 0 || size > math.MaxInt64:
		return h, fmt.Errorf("%w: body size %d", ErrBadBackup, size)
	}
	h.Size = int64(size)
	return h, nil
}

// WriteBackup writes the snapshot to w as a backup: header, the bbolt file
// (as WriteTo writes it) and the SHA-256 trailer. It returns the number of
// bytes written. It may run concurrently with writes to the Store.
func (sn *Snapshot) WriteBackup(w io.Writer) (int64, error) {
	h, err := sn.backupHeader()
	if err != nil {
		return 0, err
	}
	sum := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(w, sum)}
	if _, err := cw.Write(appendBackupHeader(nil, h)); err != nil {
		return cw.n, fmt.Errorf("mvcc: backup write: %w", err)
	}
	n, err := sn.WriteTo(cw)
	if err != nil {
		return cw.n, err
	}
	if n != h.Size {
		return cw.n, fmt.Errorf("mvcc: backup write: wrote %d bytes of database, expected %d", n, h.Size)
	}
	if _, err := w.Write(sum.Sum(nil)); err != nil {
		return cw.n, fmt.Errorf("mvcc: backup write: %w", err)
	}
	return cw.n + backupSumSize, nil
}

// backupHeader reads the revisions of the snapshot's read txn: the
// compaction revision from meta, the current revision as Open derives it
// (the newest record's revision, at least the compaction revision).
func (sn *Snapshot) backupHeader() (BackupHeader, error) {
	cr, err := metaU64(sn.tx.Bucket(bucketMeta), metaCompactRev)
	if err != nil {
		return BackupHeader{}, err
	}
	var last int64
	if k, _ := sn.tx.Bucket(bucketKey).Cursor().Last(); k != nil {
		rev, _, err := bytesToRev(k)
		if err != nil {
			return BackupHeader{}, err
		}
		last = rev.main
	}
	return BackupHeader{
		Version: backupVersion, Revision: max(1, last, int64(cr)), CompactRevision: int64(cr),
		ConsistentIndex: sn.ci, Size: sn.size,
	}, nil
}

// ReadBackup reads a backup stream from r to its end, copies the body (the
// bbolt file) to body, and verifies it: the header, the body's length, the
// SHA-256 trailer, and that nothing follows the trailer. body receives
// bytes before they are verified: write them somewhere provisional and
// use them only if ReadBackup succeeds. Errors about the stream's contents
// wrap ErrBadBackup; errors reading r or writing body are returned as
// they are (wrapped).
func ReadBackup(r io.Reader, body io.Writer) (BackupInfo, error) {
	var info BackupInfo
	hb := make([]byte, backupHeaderSize)
	if n, err := io.ReadFull(r, hb); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return info, fmt.Errorf("%w: header is %d bytes, want %d (truncated)", ErrBadBackup, n, backupHeaderSize)
		}
		return info, fmt.Errorf("mvcc: read backup: %w", err)
	}
	h, err := parseBackupHeader(hb)
	if err != nil {
		return info, err
	}
	info.BackupHeader = h
	sum := sha256.New()
	sum.Write(hb)
	sr := &sourceReader{r: r}
	n, err := io.CopyN(io.MultiWriter(body, sum), sr, h.Size)
	switch {
	case err == nil:
	case err == io.EOF: // CopyN's own: r ended early
		return info, fmt.Errorf("%w: body is %d bytes, header says %d (truncated)", ErrBadBackup, n, h.Size)
	case err == sr.err:
		return info, fmt.Errorf("mvcc: read backup: %w", err)
	default:
		return info, fmt.Errorf("mvcc: read backup: writing body: %w", err)
	}
	return info, readTrailer(r, sum, &info)
}

// readTrailer reads and checks the trailer against sum, and that the
// stream ends there.
func readTrailer(r io.Reader, sum hash.Hash, info *BackupInfo) error {
	t := make([]byte, backupSumSize+1)
	n, err := io.ReadFull(r, t)
	switch {
	case n < backupSumSize && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("%w: trailer is %d bytes, want %d (truncated)", ErrBadBackup, n, backupSumSize)
	case n == len(t):
		return fmt.Errorf("%w: data after the trailer", ErrBadBackup)
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("mvcc: read backup: %w", err)
	}
	copy(info.Checksum[:], t[:backupSumSize])
	if want := sum.Sum(nil); !bytes.Equal(want, info.Checksum[:]) {
		return fmt.Errorf("%w: checksum mismatch (the backup is damaged)", ErrBadBackup)
	}
	return nil
}

// sourceReader remembers the error its reader returned, so that ReadBackup
// can tell a short stream (EOF) from a failing reader or a failing body
// writer (io.CopyN reports all three alike).
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
