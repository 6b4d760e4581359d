package keel

import (
	"crypto/rand"
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
// first Open: its ID and the ID of the cluster it was bootstrapped into.
type identity struct {
	MemberID  string `json:"member_id"`
	ClusterID uint64 `json:"cluster_id"`
	// Single records that the member was bootstrapped as a one-member
	// cluster; it then uses short raft timeouts unless Config sets them.
	Single bool `json:"single,omitempty"`
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
	id := identity{MemberID: cfg.ID, Single: len(cfg.Peers) == 0}
	if id.MemberID == "" {
		var r [8]byte
		if _, err := rand.Read(r[:]); err != nil {
			return identity{}, err
		}
		id.MemberID = hex.EncodeToString(r[:])
	}
	id.ClusterID = clusterID(id.MemberID, cfg.Peers, cfg.ClusterToken)
	b, err = json.Marshal(id)
	if err != nil {
		return identity{}, err
	}
	return id, writeFileAtomic(path, b)
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
	return h.Sum64()
}

// memberNumber maps a member ID to the uint64 reported in headers.
func memberNumber(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

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
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
