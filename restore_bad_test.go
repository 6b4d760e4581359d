package keel_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// Offsets in a backup (see mvcc's backup format): a 52-byte header, the
// database, a 32-byte trailer.
const (
	backupHeaderLen  = 52
	backupTrailerLen = 32
)

// smallBackup returns a backup of a single member with a few keys.
func smallBackup(tb testing.TB) []byte {
	tb.Helper()
	c := keeltest.NewCluster(tb, 1)
	s := c.Member(0)
	for _, k := range []string{"a", "b", "c"} {
		_, err := s.Put(tb.Context(), k, k+k)
		require.NoError(tb, err)
	}
	return snapshotBytes(tb, s)
}

// snapshotBytes reads a whole Snapshot of s.
func snapshotBytes(tb testing.TB, s *keel.Store) []byte {
	tb.Helper()
	rc, err := s.Snapshot(tb.Context())
	require.NoError(tb, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(tb, err)
	return b
}

// requireEmptyOrAbsent fails tb unless dir is absent or empty.
func requireEmptyOrAbsent(tb testing.TB, dir string) {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(tb, err)
	require.Empty(tb, entries, "Dir is left empty")
}

func TestRestoreMemberRefusesBadBackup(t *testing.T) {
	good := smallBackup(t)
	body := len(good) - backupHeaderLen - backupTrailerLen
	require.Positive(t, body)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("KEEL_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "KEEL_SEED")
	}
	t.Logf("seed %d (KEEL_SEED=%d to replay)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= byte(1 + rng.IntN(255))
		return b
	}
	cut := func(n int) []byte { return good[:n] }
	type tc struct {
		name   string
		backup []byte
	}
	cases := []tc{
		{"empty", nil},
		{"raw database, no header", good[backupHeaderLen : backupHeaderLen+body]},
		{"data after the trailer", append(bytes.Clone(good), 0)},
		{"flip first header byte", flip(0)},
		{"flip version", flip(9)},
		{"flip revision", flip(20)},
		{"flip body size", flip(47)},
		{"flip header CRC", flip(backupHeaderLen - 1)},
		{"flip first body byte", flip(backupHeaderLen)},
		{"flip last body byte", flip(backupHeaderLen + body - 1)},
		{"flip first trailer byte", flip(backupHeaderLen + body)},
		{"flip last byte", flip(len(good) - 1)},
		{"cut in header", cut(1 + rng.IntN(backupHeaderLen-1))},
		{"cut after header", cut(backupHeaderLen)},
		{"cut in body", cut(backupHeaderLen + 1 + rng.IntN(body-1))},
		{"cut after body", cut(backupHeaderLen + body)},
		{"cut in trailer", cut(backupHeaderLen + body + 1 + rng.IntN(backupTrailerLen-1))},
		{"cut last byte", cut(len(good) - 1)},
	}
	for range 8 {
		cases = append(cases, tc{"flip a random byte", flip(rng.IntN(len(good)))})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := keel.VerifyBackup(bytes.NewReader(c.backup))
			require.ErrorIs(t, err, keel.ErrBadBackup)

			// Into a Dir that does not exist, and into an empty one.
			for _, dir := range []string{filepath.Join(t.TempDir(), "new", "member"), t.TempDir()} {
				err := keel.RestoreMember(bytes.NewReader(c.backup), keel.Config{Dir: dir})
				require.ErrorIs(t, err, keel.ErrBadBackup)
				requireEmptyOrAbsent(t, dir)
			}
		})
	}

	// The good backup restores.
	dir := t.TempDir()
	require.NoError(t, keel.RestoreMember(bytes.NewReader(good), keel.Config{Dir: dir}))
	s, err := keel.Open(keel.Config{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	r, err := s.Get(t.Context(), "b")
	require.NoError(t, err)
	require.Equal(t, "bb", string(r.Kvs[0].Value))
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestRestoreMemberRefusals(t *testing.T) {
	good := smallBackup(t)
	errRead := errors.New("disk on fire")
	nonEmpty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(nonEmpty, "precious"), []byte("x"), 0o600))
	cases := []struct {
		name   string
		cfg    keel.Config
		backup io.Reader
		want   error
		empty  bool // the Dir must be left empty
	}{
		{"no Dir", keel.Config{}, bytes.NewReader(good), keel.ErrInvalidConfig, false},
		{"non-empty Dir", keel.Config{Dir: nonEmpty}, bytes.NewReader(good), keel.ErrInvalidConfig, false},
		{"Join", keel.Config{Dir: t.TempDir(), Join: []string{"127.0.0.1:1"}}, bytes.NewReader(good), keel.ErrInvalidConfig, true},
		{"Learner", keel.Config{Dir: t.TempDir(), Learner: true}, bytes.NewReader(good), keel.ErrInvalidConfig, true},
		{"ID not in Peers", keel.Config{Dir: t.TempDir(), ID: "x", Peers: []keel.Peer{{ID: "a", Addr: "127.0.0.1:1"}}}, bytes.NewReader(good), keel.ErrInvalidConfig, true},
		{"reader fails", keel.Config{Dir: t.TempDir()}, &failingReader{data: good[:1000], err: errRead}, errRead, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := keel.RestoreMember(c.backup, c.cfg)
			require.ErrorIs(t, err, c.want)
			if c.empty {
				requireEmptyOrAbsent(t, c.cfg.Dir)
			}
		})
	}
	b, err := os.ReadFile(filepath.Join(nonEmpty, "precious"))
	require.NoError(t, err)
	require.Equal(t, "x", string(b), "a non-empty Dir is left alone")
}

// A Dir that an interrupted RestoreMember left (a database or its
// temporary file, no keel.json) is refused by Open, and RestoreMember
// clears the temporary file of an earlier attempt.
func TestRestoreMemberInterrupted(t *testing.T) {
	good := smallBackup(t)
	cases := []struct {
		name    string
		leave   string // file left in Dir
		restore bool   // RestoreMember succeeds on it
	}{
		{"database without identity", "kv.db", false},
		{"temporary file", "kv.db.restore-123", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, c.leave), good, 0o600))
			_, err := keel.Open(keel.Config{Dir: dir})
			require.ErrorIs(t, err, keel.ErrInvalidConfig)
			err = keel.RestoreMember(bytes.NewReader(good), keel.Config{Dir: dir})
			if !c.restore {
				require.ErrorIs(t, err, keel.ErrInvalidConfig)
				return
			}
			require.NoError(t, err)
			_, err = os.Stat(filepath.Join(dir, c.leave))
			require.ErrorIs(t, err, os.ErrNotExist)
			s, err := keel.Open(keel.Config{Dir: dir})
			require.NoError(t, err)
			require.NoError(t, s.Close())
		})
	}
}
