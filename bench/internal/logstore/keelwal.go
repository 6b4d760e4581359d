package logstore

import "github.com/keeldb/keel/wal"

// KeelWALName is the store name for Keel's own wal package.
const KeelWALName = "keel-wal"

var _ Store = (*wal.WAL)(nil)

func keelWAL() Factory {
	return Factory{
		Name:        KeelWALName,
		Description: "github.com/keeldb/keel/wal, zero Config (fsync on)",
		open: func(dir string) (Store, error) {
			return wal.Open(dir, wal.Config{})
		},
	}
}
