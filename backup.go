package keel

import (
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/keeldb/keel/mvcc"
)

// BackupInfo describes a verified backup (see VerifyBackup).
type BackupInfo struct {
	// Version is the backup's format version.
	Version uint32
	// Revision is the revision of the data in the backup: the source
	// member's revision when Snapshot was called.
	Revision int64
	// CompactRevision is the revision its history was compacted to.
	CompactRevision int64
	// Size is the size of the database in the backup, in bytes.
	Size int64
	// Checksum is the SHA-256 of the backup's header and database, as
	// its trailer records it.
	Checksum [sha256.Size]byte
}

// VerifyBackup reads a backup (the output of Snapshot) to its end and
// checks it as RestoreMember would check it before restoring: the format,
// the length and the checksum. It returns the backup's header, or an
// error wrapping ErrBadBackup. It stores nothing: it reads the stream
// once, in constant memory. It does not open the database, which
// RestoreMember also validates.
func VerifyBackup(r io.Reader) (*BackupInfo, error) {
	info, err := mvcc.ReadBackup(r, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("keel: verify backup: %w", err)
	}
	return publicBackupInfo(info), nil
}

func publicBackupInfo(info mvcc.BackupInfo) *BackupInfo {
	return &BackupInfo{
		Version: info.Version, Revision: info.Revision, CompactRevision: info.CompactRevision,
		Size: info.Size, Checksum: info.Checksum,
	}
}
