package logstore

import (
	raftwal "github.com/hashicorp/raft-wal"
)

// RaftWALName is the store name for hashicorp/raft-wal.
const RaftWALName = "raft-wal"

var _ Store = (*raftwal.WAL)(nil)

func raftWAL() Factory {
	return Factory{
		Name:        RaftWALName,
		Description: "hashicorp/raft-wal v0.4.1, default options (64 MiB segments, fsync per StoreLogs)",
		open: func(dir string) (Store, error) {
			return raftwal.Open(dir)
		},
	}
}
