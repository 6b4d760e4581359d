package mvcc

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// backupBytes writes a backup of s and returns it.
func backupBytes(tb testing.TB, s *Store) []byte {
	tb.Helper()
	b, size, _ := snapshotStream(tb, s, (*Snapshot).WriteBackup)
	require.EqualValues(tb, size+backupHeaderSize+backupSumSize, len(b))
	return b
}

// buildBackup frames body as a backup with header h (h.Size is set).
func buildBackup(h BackupHeader, body []byte) []byte {
	h.Size = int64(len(body))
	b := appendBackupHeader(nil, h)
	b = append(b, body...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// historyStore returns a store with keys, leases (some checkpointed), a
// compaction and cluster state, at raft index 60.
func historyStore(tb testing.TB) *Store {
	tb.Helper()
	s, _ := openStore(tb, Config{})
	for i := uint64(1); i <= 50; i++ {
		applyLeaseScripted(s, i)
	}
	tx := s.Write(51)
	_, err := tx.Compact(s.Rev() - 10)
	require.NoError(tb, err)
	tx.SetClusterState([]byte("members of the source cluster"))
	tx.SetAlarms([]byte("alarms of the source cluster"))
	tx.End()
	for i := uint64(52); i <= 60; i++ {
		applyLeaseScripted(s, i)
	}
	tx = s.Write(61)
	for _, rec := range s.Leases() {
		require.NoError(tb, tx.CheckpointLease(rec.ID, 1234))
	}
	tx.End()
	require.NotEmpty(tb, s.Leases())
	return s
}

func TestBackupRoundTrip(t *testing.T) {
	src := historyStore(t)
	backup := backupBytes(t, src)

	var body bytes.Buffer
	info, err := ReadBackup(bytes.NewReader(backup), &body)
	require.NoError(t, err)
	require.Equal(t, BackupHeader{
		Version: 1, Revision: src.Rev(), CompactRevision: src.CompactRev(), ConsistentIndex: 61, Size: int64(body.Len()),
	}, info.BackupHeader)
	require.Equal(t, sha256.Sum256(backup[:len(backup)-backupSumSize]), info.Checksum)

	path := filepath.Join(t.TempDir(), "kv.db")
	rinfo, err := RestoreBackup(bytes.NewReader(backup), path)
	require.NoError(t, err)
	require.Equal(t, info, rinfo)
	requireNoTempFiles(t, filepath.Dir(path))
	dst := reopen(t, path, Config{})

	require.Equal(t, src.Rev(), dst.Rev())
	require.Equal(t, src.CompactRev(), dst.CompactRev())
	require.Zero(t, dst.ConsistentIndex(), "the new raft log starts empty")
	require.Nil(t, dst.ClusterState(), "the source's cluster state does not carry over")
	require.Nil(t, dst.Alarms(), "nor do its alarms")
	for rev := src.CompactRev(); rev <= src.Rev(); rev++ {
		want, err := src.HashKV(rev)
		require.NoError(t, err)
		got, err := dst.HashKV(rev)
		require.NoError(t, err)
		require.Equal(t, want, got, "rev %d", rev)
		require.Equal(t, rangeOK(t, src, "\x00", "\x00", RangeOptions{Rev: rev}), rangeOK(t, dst, "\x00", "\x00", RangeOptions{Rev: rev}))
	}
	srcLeases := src.Leases()
	for i := range srcLeases {
		require.NotZero(t, srcLeases[i].RemainingTTL)
		srcLeases[i].RemainingTTL = 0
		require.Equal(t, src.LeaseKeys(srcLeases[i].ID), dst.LeaseKeys(srcLeases[i].ID))
	}
	require.Equal(t, srcLeases, dst.Leases(), "leases keep their TTLs and lose their checkpoints")

	_, err = RestoreBackup(bytes.NewReader(backup), path)
	require.ErrorIs(t, err, fs.ErrExist, "an existing database is never replaced")
}

// A flipped byte and a truncation anywhere in a backup are refused, and so
// is a byte after its end: every position of the header and trailer, and
// positions spread over the body (one checksum covers them all alike).
func TestReadBackupRefusesDamage(t *testing.T) {
	s, _ := openStore(t, Config{})
	putKVs(t, s, 1, "a", "1", "b", "2")
	backup := backupBytes(t, s)
	rng := rand.New(rand.NewPCG(modelSeed(t), 0))
	bodyEnd := len(backup) - backupSumSize
	var positions []int
	for i := range len(backup) {
		if i < backupHeaderSize+2 || i >= bodyEnd-2 {
			positions = append(positions, i)
		}
	}
	step := max(1, (bodyEnd-backupHeaderSize)/200)
	for i := backupHeaderSize + rng.IntN(step); i < bodyEnd; i += step {
		positions = append(positions, i)
	}
	damaged := bytes.Clone(backup)
	for _, i := range positions {
		damaged[i] ^= byte(1 + rng.IntN(255))
		_, err := ReadBackup(bytes.NewReader(damaged), io.Discard)
		require.ErrorIs(t, err, ErrBadBackup, "byte %d flipped", i)
		damaged[i] = backup[i]

		_, err = ReadBackup(bytes.NewReader(backup[:i]), io.Discard)
		require.ErrorIs(t, err, ErrBadBackup, "cut at %d", i)
	}
	_, err := ReadBackup(bytes.NewReader(append(bytes.Clone(backup), 0)), io.Discard)
	require.ErrorIs(t, err, ErrBadBackup, "a byte after the trailer")
	_, err = ReadBackup(bytes.NewReader(backup), io.Discard)
	require.NoError(t, err)
}

// A backup whose framing is intact but whose database is not what the
// header says, or not a database, is refused and leaves nothing behind.
func TestRestoreBackupRefusesBadDatabase(t *testing.T) {
	s, _ := openStore(t, Config{})
	putKVs(t, s, 1, "a", "1", "b", "2")
	good := backupBytes(t, s)
	h, err := parseBackupHeader(good)
	require.NoError(t, err)
	body := good[backupHeaderSize : len(good)-backupSumSize]
	wrongRev := h
	wrongRev.Revision++
	wrongCompact := h
	wrongCompact.CompactRevision = 1
	garbage := make([]byte, len(body))
	for i := range garbage {
		garbage[i] = byte(i * 7)
	}
	cases := []struct {
		name   string
		backup []byte
	}{
		{"revision disagrees", buildBackup(wrongRev, body)},
		{"compact revision disagrees", buildBackup(wrongCompact, body)},
		{"not a database", buildBackup(h, garbage)},
		{"truncated database", buildBackup(h, body[:len(body)/2])},
		{"flipped byte", func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 1; return b }()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "kv.db")
			_, err := RestoreBackup(bytes.NewReader(c.backup), path)
			require.ErrorIs(t, err, ErrBadBackup)
			requireNoTempFiles(t, dir)
			require.NoFileExists(t, path)
		})
	}
}

func TestHashKV(t *testing.T) {
	a, _ := openStore(t, Config{})
	b, _ := openStore(t, Config{})
	for i := uint64(1); i <= 30; i++ {
		applyScripted(a, i)
		applyScripted(b, i)
	}
	common := a.Rev()
	// The stores diverge after the common revision.
	putKVs(t, a, 31, "k1", "a")
	putKVs(t, b, 31, "k1", "b")

	ha, err := a.HashKV(common)
	require.NoError(t, err)
	hb, err := b.HashKV(common)
	require.NoError(t, err)
	require.Equal(t, ha, hb, "equal histories up to rev hash alike")
	require.Equal(t, common, ha.Revision)
	require.Equal(t, common+1, ha.CurrentRevision)
	ha, err = a.HashKV(0)
	require.NoError(t, err)
	hb, err = b.HashKV(0)
	require.NoError(t, err)
	require.NotEqual(t, ha.Hash, hb.Hash, "a different value hashes differently")
	require.Equal(t, a.Rev(), ha.Revision, "rev 0 is the current revision")
	cur, err := a.HashKV(a.Rev())
	require.NoError(t, err)
	require.Equal(t, ha, cur)

	// Leases, commits and physical compaction do not change it.
	tx := a.Write(32)
	require.NoError(t, tx.GrantLease(7, 10))
	tx.End()
	require.NoError(t, a.ForceCommit())
	after, err := a.HashKV(0)
	require.NoError(t, err)
	require.Equal(t, ha, after)

	// Compaction: history below it is gone.
	tx = a.Write(33)
	done, err := tx.Compact(common - 5)
	require.NoError(t, err)
	tx.End()
	<-done
	cases := []struct {
		name string
		rev  int64
		err  error
	}{
		{"below the compaction", common - 6, ErrCompacted},
		{"at the compaction", common - 5, nil},
		{"current", a.Rev(), nil},
		{"future", a.Rev() + 1, ErrFutureRev},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := a.HashKV(c.rev)
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.rev, h.Revision)
			require.Equal(t, common-5, h.CompactRevision)
		})
	}
}

func FuzzParseBackupHeader(f *testing.F) {
	f.Add(appendBackupHeader(nil, BackupHeader{Version: 1, Revision: 9, CompactRevision: 3, ConsistentIndex: 12, Size: 4096}))
	f.Add(appendBackupHeader(nil, BackupHeader{Version: 2, Revision: 1, Size: 1}))
	f.Add([]byte(backupMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseBackupHeader(b)
		if err != nil {
			require.ErrorIs(t, err, ErrBadBackup)
			return
		}
		require.Equal(t, b[:backupHeaderSize], appendBackupHeader(nil, h), "an accepted header re-encodes to itself")
		require.Positive(t, h.Revision)
		require.Positive(t, h.Size)
		require.LessOrEqual(t, h.CompactRevision, h.Revision)
	})
}

func FuzzReadBackup(f *testing.F) {
	f.Add(buildBackup(BackupHeader{Version: 1, Revision: 5, CompactRevision: 2, ConsistentIndex: 7}, []byte("a database")))
	f.Add(buildBackup(BackupHeader{Version: 1, Revision: 1}, []byte{0}))
	f.Add([]byte(backupMagic))
	f.Fuzz(func(t *testing.T, stream []byte) {
		var body bytes.Buffer
		info, err := ReadBackup(bytes.NewReader(stream), &body)
		if err != nil {
			require.ErrorIs(t, err, ErrBadBackup)
			return
		}
		require.Equal(t, stream, buildBackup(info.BackupHeader, body.Bytes()), "an accepted stream is exactly a framed body")
		require.Equal(t, sha256.Sum256(stream[:len(stream)-backupSumSize]), info.Checksum)
	})
}

func TestCheckBoltFile(t *testing.T) {
	s, _ := openStore(t, Config{})
	putKVs(t, s, 1, "a", "1")
	// A snapshot's database is exactly as long as its pages (a live file
	// may be longer: bbolt grows it ahead).
	good, _ := snapshotBytes(t, s)
	cases := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"database", good, true},
		{"truncated by a page", good[:len(good)-4096], false},
		{"only the meta pages", good[:2*4096], false},
		{"half a meta page", good[:100], false},
		{"not a database", bytes.Repeat([]byte{7}, len(good)), false},
		{"meta checksum", func() []byte { b := bytes.Clone(good); b[16+40]++; return b }(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "db")
			require.NoError(t, os.WriteFile(p, c.data, 0o600))
			err := checkBoltFile(p)
			if c.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrCorruptSnapshot)
		})
	}
}

func FuzzCheckBolt(f *testing.F) {
	s, _ := openStore(f, Config{})
	putKVs(f, s, 1, "a", "1")
	good, _ := snapshotBytes(f, s)
	f.Add(good)
	f.Add(good[:3*4096])
	f.Add(good[:4096+100])
	f.Fuzz(func(t *testing.T, db []byte) {
		err := checkBolt(bytes.NewReader(db), int64(len(db)))
		if err != nil {
			return // any error: a read past the end (io.EOF) or corruption
		}
		m, err := readBoltMeta(bytes.NewReader(db), 0)
		require.NoError(t, err)
		require.LessOrEqual(t, m.pageHigh*uint64(m.pageSize), uint64(len(db)), "an accepted database fits its file")
	})
}

// HashKV hashes in chunks of keys, releasing the lock between them: writes
// made meanwhile (new keys, new revisions of old ones) do not change the
// hash of a revision below them, and a hash over many chunks equals the
// one taken in a single hold of the lock (Hash's path).
func TestHashKVUnderWrites(t *testing.T) {
	s, _ := openStore(t, Config{})
	idx := uint64(1)
	for i := 0; i < 3*hashChunkKeys; i += 500 {
		tx := s.Write(idx)
		idx++
		for j := i; j < i+500; j++ {
			tx.Put(fmt.Appendf(nil, "k%06d", j), fmt.Appendf(nil, "v%d", j), 0)
		}
		if i%1500 == 0 {
			tx.DeleteRange(fmt.Appendf(nil, "k%06d", i), fmt.Appendf(nil, "k%06d", i+10))
		}
		tx.End()
	}
	rev := s.Rev()
	quiet, err := s.HashKV(rev)
	require.NoError(t, err)
	s.mu.RLock()
	h := crc32.New(castagnoli)
	require.NoError(t, s.hashKeysLocked(h, rev))
	s.mu.RUnlock()
	require.Equal(t, h.Sum32(), quiet.Hash, "chunked and single-hold hashes agree")

	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tx := s.Write(idx)
			idx++
			tx.Put(fmt.Appendf(nil, "k%06d", (i*7919)%(4*hashChunkKeys)), []byte("later"), 0)
			tx.End()
		}
	}()
	for range 5 {
		got, err := s.HashKV(rev)
		require.NoError(t, err)
		require.Equal(t, quiet.Hash, got.Hash)
	}
	close(stop)
	<-writerDone
}
