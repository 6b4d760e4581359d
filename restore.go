package keel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keeldb/keel/mvcc"
)

// kvFile is the key-value database's name in Dir.
const kvFile = "kv.db"

// restoreTempPrefix starts the name of the temporary file RestoreMember
// writes the database to in Dir (mvcc.RestoreBackup's).
const restoreTempPrefix = kvFile + ".restore-"

// RestoreMember prepares cfg.Dir so that Open starts a member of a new
// cluster whose data is the backup's (the output of Store.Snapshot): the
// same keys, values, revisions, compaction revision and leases, under a
// new cluster ID. Call it once per member, then Open with the same cfg.
//
// cfg is the Config the member will be opened with: Dir, and either Peers
// (every first member of the new cluster, the same list on each; cfg.ID
// among them) or no Peers (a single member, which others then join with
// Config.Join). Join must be empty. cfg.Dir must be empty or absent.
//
// To restore a cluster of several members, give each its own copy of the
// same backup and the same Peers and ClusterToken: they derive the same
// new cluster ID (from the backup's checksum, Peers and ClusterToken) and
// form the cluster when opened. Alternatively restore one member (no
// Peers) and let the others join it with empty Dirs; they receive the
// data as a raft snapshot.
//
// The new cluster keeps nothing of the old one's raft log or membership:
// its log starts empty, its members are those the Configs name, and its
// cluster ID is new. Each lease counts its full TTL again from the
// moment a member opens (a keepalive renews it as usual; the holders have
// a whole TTL to reconnect), as after etcd's restore, whose new leader
// renews every lease.
//
// The backup is verified as it is written to a temporary file in Dir (its
// header, length and SHA-256 trailer), and the database is then loaded as
// Open would load it; only then is it renamed into place and keel.json
// (the member's identity, which Open reads) written, each step fsynced.
// A corrupt, truncated or foreign backup returns an error wrapping
// ErrBadBackup and leaves Dir empty (or absent, if RestoreMember created
// it). A non-empty Dir, or an invalid cfg, returns ErrInvalidConfig. If
// the process dies during RestoreMember, Open refuses the Dir it left;
// empty it and restore again.
func RestoreMember(backup io.Reader, cfg Config) error {
	if err := checkRestoreConfig(cfg); err != nil {
		return err
	}
	dir := filepath.Clean(cfg.Dir)
	created, err := prepareRestoreDir(dir)
	if err != nil {
		return err
	}
	var info mvcc.BackupInfo
	id, err := newIdentity(cfg)
	if err == nil {
		info, err = mvcc.RestoreBackup(backup, filepath.Join(dir, kvFile))
		id.ClusterID, id.Restored = restoredClusterID(id.ClusterID, info.Checksum), true
	}
	if err == nil {
		if err = saveIdentity(dir, id); err != nil {
			// Leave Dir as it was: without keel.json the database is
			// unusable (Open refuses it).
			_ = os.Remove(filepath.Join(dir, identityFile+".tmp")) // writeFileAtomic's
			err = errors.Join(err, os.Remove(filepath.Join(dir, kvFile)), syncDir(dir))
		}
	}
	if err != nil {
		if created {
			_ = os.Remove(dir)
			_ = syncDir(filepath.Dir(dir))
		}
		return fmt.Errorf("keel: restore member into %s: %w", dir, err)
	}
	cfg.withDefaults().Logger.Info("restored a backup: Open starts a new cluster from it",
		"dir", dir, "member", id.MemberID, "cluster_id", id.ClusterID, "revision", info.Revision,
		"compact_revision", info.CompactRevision, "size", info.Size)
	return nil
}

// checkRestoreConfig checks cfg as Open would, and that it starts a new
// cluster.
func checkRestoreConfig(cfg Config) error {
	if len(cfg.Join) > 0 {
		return fmt.Errorf("%w: a restored member starts a new cluster: give it Peers (or none), not Join; others join it afterwards", ErrInvalidConfig)
	}
	if cfg.Learner {
		return fmt.Errorf("%w: a restored member is a voter of its new cluster, not a Learner", ErrInvalidConfig)
	}
	return cfg.withDefaults().validate()
}

// prepareRestoreDir makes sure dir exists and is empty, creating it if
// absent (created reports so). The leftovers of an interrupted restore's
// temporary file are removed; anything else makes dir non-empty.
func prepareRestoreDir(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := createDir(dir); err != nil {
			return false, fmt.Errorf("keel: restore: create Dir: %w", err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("keel: restore: %w", err)
	}
	var leftovers []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), restoreTempPrefix) {
			return false, fmt.Errorf("%w: Dir %s is not empty (it holds %s): RestoreMember needs an empty Dir", ErrInvalidConfig, dir, e.Name())
		}
		leftovers = append(leftovers, e.Name())
	}
	for _, name := range leftovers {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return false, fmt.Errorf("keel: restore: removing the leftover %s: %w", name, err)
		}
	}
	return false, nil
}

// checkNoRestoreLeftovers refuses a Dir that has no identity yet but holds
// a database or a restore's temporary file: what an interrupted
// RestoreMember leaves. Opening it as a fresh member would start an empty
// cluster beside the data the operator meant to restore.
func checkNoRestoreLeftovers(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == kvFile || strings.HasPrefix(e.Name(), restoreTempPrefix) {
			return fmt.Errorf("%w: Dir %s holds %s but no %s (an interrupted RestoreMember?): empty it, then restore or open again",
				ErrInvalidConfig, dir, e.Name(), identityFile)
		}
	}
	return nil
}

// restoredClusterID derives a restored cluster's ID from the ID a fresh
// bootstrap with the same Config would get (Peers, ClusterToken) and the
// backup's checksum: every member restored from one backup with one Peers
// list gets the same ID without talking to the others, and it differs
// from the source cluster's (which did not hash a backup in).
func restoredClusterID(bootstrap uint64, checksum [32]byte) uint64 {
	h := fnv.New64a()
	h.Write([]byte("keel restore\x00"))
	h.Write(binary.BigEndian.AppendUint64(nil, bootstrap))
	h.Write(checksum[:])
	return max(1, h.Sum64())
}
