package keel

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// identity is what a member persists about itself in Dir/keel.json on its
// first Open: its ID and the ID of the cluster it was bootstrapped into or
// joined (0 until a joining member is admitted).
type identity struct {
	MemberID  string `json:"member_id"`
	ClusterID uint64 `json:"cluster_id"`
	// Number is the member's numeric ID (Member.ID) when the cluster chose
	// it (a member that joined); 0 means memberNumber(MemberID).
	Number uint64 `json:"member_number,omitempty"`
	// Initial is the number of members the cluster was bootstrapped with,
	// on a member that bootstrapped it (0 on one that joined).
	Initial int `json:"initial_members,omitempty"`
	// Restored marks a member prepared by RestoreMember: its first Open
	// bootstraps the cluster from the restored database (store_restore.go).
	Restored bool `json:"restored,omitempty"`
}

const identityFile = "keel.json"

// loadIdentity reads the member's identity from dir, or creates and
// persists one (write to a temp file, fsync, rename, fsync dir) on first use.
func loadIdentity(dir string, cfg Config) (identity, error) {
	path := filepath.Join(dir, identityFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var id identity
		if err := json.Unmarshal(b, &id); err != nil || id.MemberID == "" {
			return identity{}, fmt.Errorf("%w: unreadable %s", ErrInvalidConfig, path)
		}
		if cfg.ID != "" && cfg.ID != id.MemberID {
			return identity{}, fmt.Errorf("%w: Dir belongs to member %q, not %q", ErrInvalidConfig, id.MemberID, cfg.ID)
		}
		return id, nil
	case !errors.Is(err, fs.ErrNotExist):
		return identity{}, err
	}
	if err := checkNoRestoreLeftovers(dir); err != nil {
		return identity{}, err
	}
	id, err := newIdentity(cfg)
	if err != nil {
		return identity{}, err
	}
	return id, saveIdentity(dir, id)
}

// newIdentity makes the identity of a member opened with cfg for the
// first time.
func newIdentity(cfg Config) (identity, error) {
	id := identity{MemberID: cfg.ID}
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return identity{}, err
	}
	if id.MemberID == "" {
		id.MemberID = hex.EncodeToString(r[:8])
	}
	if len(cfg.Join) > 0 {
		// The ID this member proposes when it joins (the cluster may give
		// it another); the cluster ID is learnt by joining.
		id.Number = max(1, binary.BigEndian.Uint64(r[8:]))
	} else {
		id.ClusterID = clusterID(id.MemberID, cfg.Peers, cfg.ClusterToken)
		id.Initial = max(1, len(cfg.Peers))
	}
	return id, nil
}

// saveIdentity persists id in dir.
func saveIdentity(dir string, id identity) error {
	b, err := json.Marshal(id)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, identityFile), b)
}

// number returns the member's numeric ID.
func (id identity) number() uint64 {
	if id.Number != 0 {
		return id.Number
	}
	return memberNumber(id.MemberID)
}

// clusterID derives the ID of a new cluster from what every first member
// is given alike: the Peers (IDs and addresses, in any order) and the
// ClusterToken; a single member's cluster uses its own ID. Two clusters
// bootstrapped with different peer addresses or tokens get different IDs,
// so their members refuse each other's connections (transport.Config).
func clusterID(self string, peers []Peer, token string) uint64 {
	ids := []string{self + "\x00"}
	if len(peers) > 0 {
		ids = ids[:0]
		for _, p := range peers {
			ids = append(ids, p.ID+"\x00"+p.Addr)
		}
	}
	slices.Sort(ids)
	h := fnv.New64a()
	for _, s := range ids {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write([]byte(token))
	return max(1, h.Sum64()) // 0 means "not joined yet"
}

// memberNumber maps a member ID to the uint64 reported in headers.
func memberNumber(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// writeFileAtomic replaces path with b durably: it writes a temporary file,
// fsyncs it, renames it over path and fsyncs the directory, which makes
// the first creation of path durable too.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
