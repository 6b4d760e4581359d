package logstore

import (
	"path/filepath"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Store names for raft-boltdb.
const (
	RaftBoltDBName    = "raft-boltdb"
	RaftBoltDBNFSName = "raft-boltdb-nfs"
)

var (
	_ Store = (*raftboltdb.BoltStore)(nil)
)

func raftBoltDB() Factory {
	return Factory{
		Name:        RaftBoltDBName,
		Description: "hashicorp/raft-boltdb/v2 v2.3.0, default options (fsync on, freelist synced)",
		open: func(dir string) (Store, error) {
			return raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
		},
	}
}

func raftBoltDBNoFreelistSync() Factory {
	return Factory{
		Name:        RaftBoltDBNFSName,
		Description: "hashicorp/raft-boltdb/v2 v2.3.0, bbolt NoFreelistSync + hashmap freelist (fsync on)",
		open: func(dir string) (Store, error) {
			return raftboltdb.New(raftboltdb.Options{
				Path: filepath.Join(dir, "raft.db"),
				BoltOptions: &bbolt.Options{
					NoFreelistSync: true,
					FreelistType:   bbolt.FreelistMapType,
				},
			})
		},
	}
}
