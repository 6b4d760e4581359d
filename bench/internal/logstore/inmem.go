package logstore

import "github.com/hashicorp/raft"

// InmemName is the store name for raft.InmemStore.
const InmemName = "inmem"

// inmemStore adds a no-op Close to raft.InmemStore.
type inmemStore struct{ *raft.InmemStore }

// Close implements io.Closer; there is nothing to release.
func (inmemStore) Close() error { return nil }

func inmem() Factory {
	return Factory{
		Name:        InmemName,
		Description: "raft.InmemStore, no I/O (harness overhead ceiling)",
		open: func(string) (Store, error) {
			return inmemStore{raft.NewInmemStore()}, nil
		},
	}
}
