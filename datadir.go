package keel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// The data directory's entries survive a power loss only once the
// directory holding them is fsynced: a create, rename or unlink is
// metadata of the directory, not of the file (POSIX; ext4 usually keeps
// them anyway, other file systems may not). Open therefore fsyncs:
//
//   - the parent of every directory it creates for Dir (createDir);
//   - Dir, once its entries exist: keel.json (saveIdentity, after its
//     rename), kv.db (mvcc.Open fsyncs its own directory), wal/ and
//     snapshots/ (syncDataDir, before raft starts, so before anything is
//     acknowledged);
//   - each raft snapshot's directory, whose files raft creates but does
//     not make durable before it renames the directory into place
//     (snapshotStore).
//
// The WAL fsyncs wal/ itself after it creates, renames or removes files in
// it, and raft fsyncs snapshots/ after renaming a snapshot into place.
// These fsyncs happen at Open and once per snapshot, never per write.

// createDir creates dir and its missing parents, like os.MkdirAll, and
// fsyncs the parent of each directory it created. dir is cleaned
// lexically, as are the paths Open joins under it.
func createDir(dir string) error {
	dir = filepath.Clean(dir)
	var created []string
	for d := dir; ; {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			break // it exists, or MkdirAll reports why it cannot be made
		}
		created = append(created, d)
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("fsync parent of %s: %w", d, err)
		}
	}
	return nil
}

// syncDir fsyncs directory dir, so that the creates, renames and unlinks
// made in it survive a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	return errors.Join(serr, cerr)
}

// syncDataDir makes the entries Open created in Dir durable: wal/ on the
// raft log's file system, snapshots/ and the rest on the OS's.
func (s *Store) syncDataDir() error {
	if err := syncDir(s.cfg.Dir); err != nil {
		return err
	}
	if s.cfg.WALFS != nil {
		return s.cfg.WALFS.SyncDir(s.cfg.Dir)
	}
	return nil
}

// snapshotStore is raft's FileSnapshotStore with one more fsync: raft
// creates a snapshot's files (state.bin, meta.json) in a temporary
// directory, fsyncs their contents, renames the directory into place and
// fsyncs snapshots/, but never fsyncs the snapshot's own directory, so a
// power loss could keep the snapshot without its files. Create fsyncs that
// directory once both files exist; Close's rewrite of meta.json and the
// rename change no entry in it.
type snapshotStore struct {
	*raft.FileSnapshotStore
	dir string // snapshots/
}

var _ raft.SnapshotStore = (*snapshotStore)(nil)

// snapshotTmpSuffix is the suffix of the directory raft writes a snapshot
// in until it is complete (raft's tmpSuffix). If raft changed it, every
// Create would fail (no such directory) and tests taking snapshots would
// catch it.
const snapshotTmpSuffix = ".tmp"

func newSnapshotStore(base string, retain int, logger hclog.Logger) (*snapshotStore, error) {
	fss, err := raft.NewFileSnapshotStoreWithLogger(base, retain, logger)
	if err != nil {
		return nil, err
	}
	return &snapshotStore{FileSnapshotStore: fss, dir: filepath.Join(base, "snapshots")}, nil
}

// Create implements raft.SnapshotStore.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64,
	configuration raft.Configuration, configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.FileSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Join(s.dir, sink.ID()+snapshotTmpSuffix)); err != nil {
		_ = sink.Cancel()
		return nil, fmt.Errorf("keel: fsync snapshot directory: %w", err)
	}
	return sink, nil
}
