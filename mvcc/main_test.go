package mvcc

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openStore opens a store in a fresh temp dir and closes it at cleanup.
func openStore(tb testing.TB, cfg Config) (*Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "mvcc.db")
	s, err := Open(path, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s, path
}

// reopen opens path and closes the store at cleanup.
func reopen(tb testing.TB, path string, cfg Config) *Store {
	tb.Helper()
	s, err := Open(path, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// crash stops s without committing its pending changes, as if the process
// died: bbolt keeps only what was committed.
func (s *Store) crash() {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown(false) })
}

// setCompactRev fakes a compaction revision until compaction exists.
func (s *Store) setCompactRev(rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compactRev = rev
}

// putKVs runs one write txn putting key/value pairs (lease 0).
func putKVs(tb testing.TB, s *Store, index uint64, kvs ...string) []Event {
	tb.Helper()
	require.Zero(tb, len(kvs)%2, "putKVs needs key/value pairs")
	t := s.Write(index)
	for i := 0; i < len(kvs); i += 2 {
		t.Put([]byte(kvs[i]), []byte(kvs[i+1]), 0)
	}
	return t.End()
}

// deleteRange runs one write txn deleting [key, end).
func deleteRange(tb testing.TB, s *Store, index uint64, key, end string) (int64, []Event) {
	tb.Helper()
	t := s.Write(index)
	n := t.DeleteRange([]byte(key), bytesOrNil(end))
	return n, t.End()
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// rangeOK ranges and requires no error.
func rangeOK(tb testing.TB, s *Store, key, end string, ro RangeOptions) *RangeResult {
	tb.Helper()
	res, err := s.Range([]byte(key), bytesOrNil(end), ro)
	require.NoError(tb, err)
	return res
}

// keysOf returns the keys of kvs as strings.
func keysOf(kvs []*KeyValue) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

// kvOf builds an expected KeyValue.
func kvOf(key, value string, create, mod, ver, lease int64) *KeyValue {
	return &KeyValue{Key: []byte(key), Value: []byte(value), CreateRevision: create, ModRevision: mod, Version: ver, Lease: lease}
}
