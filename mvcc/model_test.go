package mvcc

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// model is a trivial in-memory reference for the store: every change ever
// made, queried naively.
type model struct {
	recs   []modelRecord
	rev    int64
	ci     uint64
	leases map[int64]LeaseRecord
}

// leaseKeys returns the keys live at rev whose current version carries
// lease id, sorted (the definition of attachment).
func (m *model) leaseKeys(id, rev int64) []string {
	out := []string{}
	if id == 0 {
		return out
	}
	for _, kv := range m.liveIn([]byte{0}, []byte{0}, rev) {
		if kv.Lease == id {
			out = append(out, string(kv.Key))
		}
	}
	return out
}

// sortedLeases returns the model's lease records sorted by ID.
func (m *model) sortedLeases() []LeaseRecord {
	out := []LeaseRecord{}
	for _, id := range slices.Sorted(maps.Keys(m.leases)) {
		out = append(out, m.leases[id])
	}
	return out
}

type modelRecord struct {
	key   string
	main  int64
	value string
	lease int64
	tomb  bool
}

// kvAt returns key's KeyValue at rev (nil if absent), looking only at
// records with main <= rev.
func (m *model) kvAt(key string, rev int64) *KeyValue {
	var kv *KeyValue
	for _, r := range m.recs {
		if r.key != key || r.main > rev {
			continue
		}
		if r.tomb {
			kv = nil
			continue
		}
		if kv == nil {
			kv = &KeyValue{Key: []byte(key), CreateRevision: r.main}
		}
		kv.Value, kv.ModRevision, kv.Lease = []byte(r.value), r.main, r.lease
		kv.Version++
	}
	return kv
}

// liveIn returns the KeyValues live at rev in the range, in key order.
func (m *model) liveIn(key, end []byte, rev int64) []*KeyValue {
	seen := map[string]bool{}
	var keys []string
	for _, r := range m.recs {
		if !seen[r.key] && inRange([]byte(r.key), key, end) {
			seen[r.key] = true
			keys = append(keys, r.key)
		}
	}
	slices.Sort(keys)
	var out []*KeyValue
	for _, k := range keys {
		if kv := m.kvAt(k, rev); kv != nil {
			out = append(out, kv)
		}
	}
	return out
}

// inRange is the naive reading of etcd's range encoding.
func inRange(k, key, end []byte) bool {
	switch {
	case len(end) == 0:
		return len(key) > 0 && bytes.Equal(k, key)
	case bytes.Equal(end, []byte{0}):
		return bytes.Equal(key, []byte{0}) || bytes.Compare(k, key) >= 0
	default:
		return bytes.Compare(k, key) >= 0 && bytes.Compare(k, end) < 0
	}
}

// rangeModel answers a Range at view revision cur.
func (m *model) rangeModel(key, end []byte, ro RangeOptions, cur int64) (*RangeResult, error) {
	rev := ro.Rev
	if rev > cur {
		return nil, ErrFutureRev
	}
	if rev <= 0 {
		rev = cur
	}
	kvs := m.liveIn(key, end, rev)
	res := &RangeResult{Rev: cur, Count: int64(len(kvs))}
	if ro.CountOnly {
		return res, nil
	}
	filtered := ro.MinModRev != 0 || ro.MaxModRev != 0 || ro.MinCreateRev != 0 || ro.MaxCreateRev != 0
	if ro.SortOrder == SortNone && !filtered && ro.Limit > 0 && int64(len(kvs)) > ro.Limit+1 {
		kvs = kvs[:ro.Limit+1] // etcd sorts (by a non-key target) only these
	}
	var keep []*KeyValue
	for _, kv := range kvs {
		if (ro.MinModRev == 0 || kv.ModRevision >= ro.MinModRev) &&
			(ro.MaxModRev == 0 || kv.ModRevision <= ro.MaxModRev) &&
			(ro.MinCreateRev == 0 || kv.CreateRevision >= ro.MinCreateRev) &&
			(ro.MaxCreateRev == 0 || kv.CreateRevision <= ro.MaxCreateRev) {
			keep = append(keep, kv)
		}
	}
	c := func(a, b *KeyValue) int {
		switch ro.SortTarget {
		case SortByVersion:
			return cmp.Compare(a.Version, b.Version)
		case SortByCreateRevision:
			return cmp.Compare(a.CreateRevision, b.CreateRevision)
		case SortByModRevision:
			return cmp.Compare(a.ModRevision, b.ModRevision)
		case SortByValue:
			return bytes.Compare(a.Value, b.Value)
		}
		return bytes.Compare(a.Key, b.Key)
	}
	switch {
	case ro.SortOrder == SortDescend:
		slices.SortStableFunc(keep, func(a, b *KeyValue) int { return c(b, a) })
	case ro.SortOrder == SortAscend || ro.SortTarget != SortByKey:
		slices.SortStableFunc(keep, c)
	}
	if ro.Limit > 0 && int64(len(keep)) > ro.Limit {
		keep, res.More = keep[:ro.Limit], true
	}
	for _, kv := range keep {
		if ro.KeysOnly {
			kv.Value = nil
		}
	}
	res.KVs = keep
	return res, nil
}

// modelTxn mirrors one TxnWrite on the model.
type modelTxn struct {
	m       *model
	rev     int64
	changes int
	events  []Event
}

func (t *modelTxn) readRev() int64 {
	if t.changes > 0 {
		return t.rev
	}
	return t.rev - 1
}

func (t *modelTxn) put(key, value string, lease int64) {
	prev := t.m.kvAt(key, t.rev)
	t.m.recs = append(t.m.recs, modelRecord{key: key, main: t.rev, value: value, lease: lease})
	t.changes++
	t.events = append(t.events, Event{Type: EventTypePut, Kv: t.m.kvAt(key, t.rev), PrevKv: prev})
}

func (t *modelTxn) deleteRange(key, end []byte) int64 {
	live := t.m.liveIn(key, end, t.rev)
	for _, kv := range live {
		t.m.recs = append(t.m.recs, modelRecord{key: string(kv.Key), main: t.rev, tomb: true})
		t.changes++
		t.events = append(t.events, Event{Type: EventTypeDelete, Kv: &KeyValue{Key: kv.Key, ModRevision: t.rev}, PrevKv: kv})
	}
	return int64(len(live))
}

func (t *modelTxn) grantLease(id, ttl int64) error {
	if id <= 0 || ttl <= 0 {
		return ErrInvalidLease
	}
	if _, ok := t.m.leases[id]; ok {
		return ErrLeaseExists
	}
	t.m.leases[id] = LeaseRecord{ID: id, TTL: ttl}
	return nil
}

func (t *modelTxn) revokeLease(id int64) (int64, error) {
	if _, ok := t.m.leases[id]; !ok {
		return 0, ErrLeaseNotFound
	}
	var n int64
	for _, k := range t.m.leaseKeys(id, t.rev) {
		n += t.deleteRange([]byte(k), nil)
	}
	delete(t.m.leases, id)
	return n, nil
}

func (t *modelTxn) checkpointLease(id, remaining int64) error {
	if remaining < 0 {
		return ErrInvalidLease
	}
	rec, ok := t.m.leases[id]
	if !ok {
		return ErrLeaseNotFound
	}
	rec.RemainingTTL = remaining
	t.m.leases[id] = rec
	return nil
}

// requireSameErr requires got to be want (both nil, or errors.Is).
func requireSameErr(tb testing.TB, want, got error, msgAndArgs ...any) {
	tb.Helper()
	if want == nil {
		require.NoError(tb, got, msgAndArgs...)
		return
	}
	require.ErrorIs(tb, got, want, msgAndArgs...)
}

func modelSeed(tb testing.TB) uint64 {
	tb.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("MVCC_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(tb, err, "MVCC_SEED")
	}
	tb.Logf("seed %d (rerun with MVCC_SEED=%d)", seed, seed)
	return seed
}

func TestModelRandomized(t *testing.T) {
	seed := modelSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	steps := 1500
	if testing.Short() {
		steps = 300
	}
	dir := t.TempDir()
	cfgFor := func() Config {
		return Config{CommitInterval: time.Duration(1+rng.IntN(5)) * time.Millisecond, CommitLimit: 1 + rng.IntN(20), noSync: true}
	}
	path := filepath.Join(dir, "s0.db")
	s, err := Open(path, cfgFor())
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	m := &model{rev: 1, leases: map[int64]LeaseRecord{}}
	// checkLeases compares every lease record and the attachments of
	// leases 0..5 (0 is "no lease"; 5 is never granted) with the model.
	checkLeases := func(step int) {
		t.Helper()
		require.Equal(t, m.sortedLeases(), append([]LeaseRecord{}, s.Leases()...), "step %d leases", step)
		for id := range int64(6) {
			_, ok := s.Lease(id)
			_, want := m.leases[id]
			require.Equal(t, want, ok, "step %d lease %d", step, id)
			require.Equal(t, m.leaseKeys(id, m.rev), strs(s.LeaseKeys(id)), "step %d keys of lease %d", step, id)
		}
	}

	keys := []string{"a", "a\x00", "ab", "abc", "b", "ba", "c", "d", "e", "f", "\xff", "\xff\xff"}
	randKey := func() []byte { return []byte(keys[rng.IntN(len(keys))]) }
	randRange := func() (key, end []byte) {
		switch rng.IntN(5) {
		case 0:
			return randKey(), nil
		case 1:
			return randKey(), []byte{0}
		case 2:
			return []byte{0}, []byte{0}
		default:
			return randKey(), randKey()
		}
	}
	randOpts := func(cur int64) RangeOptions {
		ro := RangeOptions{}
		if rng.IntN(2) == 0 {
			ro.Rev = rng.Int64N(cur + 2) // may be cur+1: future
		}
		if rng.IntN(3) == 0 {
			ro.Limit = rng.Int64N(4)
		}
		if rng.IntN(3) == 0 {
			ro.SortTarget = SortTarget(rng.IntN(5))
			ro.SortOrder = SortOrder(rng.IntN(3))
		}
		if rng.IntN(4) == 0 {
			ro.MinModRev = rng.Int64N(cur + 1)
		}
		if rng.IntN(4) == 0 {
			ro.MaxCreateRev = rng.Int64N(cur + 1)
		}
		if rng.IntN(6) == 0 {
			ro.MaxModRev = rng.Int64N(cur + 1)
			ro.MinCreateRev = rng.Int64N(cur + 1)
		}
		ro.KeysOnly = rng.IntN(6) == 0
		ro.CountOnly = rng.IntN(8) == 0
		return ro
	}
	checkRange := func(step int, what string, got *RangeResult, gotErr error, want *RangeResult, wantErr error) {
		t.Helper()
		if wantErr != nil {
			require.ErrorIs(t, gotErr, wantErr, "step %d %s", step, what)
			return
		}
		require.NoError(t, gotErr, "step %d %s", step, what)
		require.Equal(t, want, got, "step %d %s", step, what)
	}

	for step := range steps {
		switch p := rng.IntN(100); {
		case p < 50: // write txn
			m.ci++
			tx := s.Write(m.ci)
			mt := &modelTxn{m: m, rev: m.rev + 1}
			for range 1 + rng.IntN(4) {
				switch rng.IntN(10) {
				case 0, 1, 2:
					k, v, l := randKey(), fmt.Sprintf("v%d", rng.IntN(50)), rng.Int64N(6)
					tx.Put(k, []byte(v), l)
					mt.put(string(k), v, l)
				case 6: // grant (sometimes invalid or existing)
					id, ttl := rng.Int64N(6)-1, rng.Int64N(20)
					requireSameErr(t, mt.grantLease(id, ttl), tx.GrantLease(id, ttl), "step %d grant %d", step, id)
				case 7: // revoke (sometimes missing)
					id := rng.Int64N(6)
					wantN, wantErr := mt.revokeLease(id)
					gotN, gotErr := tx.RevokeLease(id)
					requireSameErr(t, wantErr, gotErr, "step %d revoke %d", step, id)
					require.Equal(t, wantN, gotN, "step %d revoke %d", step, id)
				case 8: // checkpoint (sometimes missing or invalid)
					id, rem := rng.Int64N(6), rng.Int64N(5000)-100
					requireSameErr(t, mt.checkpointLease(id, rem), tx.CheckpointLease(id, rem), "step %d checkpoint %d", step, id)
				case 9: // the txn's own lease view
					id := rng.Int64N(6)
					rec, ok := tx.Lease(id)
					wantRec, wantOK := m.leases[id]
					require.Equal(t, wantOK, ok, "step %d txn lease %d", step, id)
					require.Equal(t, wantRec, rec, "step %d txn lease %d", step, id)
					require.Equal(t, m.leaseKeys(id, mt.rev), strs(tx.LeaseKeys(id)), "step %d txn keys of %d", step, id)
				case 3:
					k := randKey()
					require.Equal(t, mt.deleteRange(k, nil), tx.DeleteRange(k, nil), "step %d", step)
				case 4:
					k, e := randRange()
					require.Equal(t, mt.deleteRange(k, e), tx.DeleteRange(k, e), "step %d", step)
				default:
					k, e := randRange()
					ro := randOpts(mt.readRev())
					got, gotErr := tx.Range(k, e, ro)
					want, wantErr := m.rangeModel(k, e, ro, mt.readRev())
					checkRange(step, "txn range", got, gotErr, want, wantErr)
				}
			}
			evs := tx.End()
			if mt.changes > 0 {
				m.rev++
			}
			require.Equal(t, mt.events, evs, "step %d events", step)
			require.Equal(t, m.rev, s.Rev(), "step %d", step)
			require.Equal(t, m.ci, s.ConsistentIndex(), "step %d", step)
			checkLeases(step)
		case p < 90: // read
			k, e := randRange()
			ro := randOpts(m.rev)
			got, gotErr := s.Range(k, e, ro)
			want, wantErr := m.rangeModel(k, e, ro, m.rev)
			checkRange(step, fmt.Sprintf("range %q %q %+v", k, e, ro), got, gotErr, want, wantErr)
		case p < 95: // close and reopen
			h, rev, err := s.Hash()
			require.NoError(t, err)
			require.NoError(t, s.Close())
			s, err = Open(path, cfgFor())
			require.NoError(t, err)
			h2, rev2, err := s.Hash()
			require.NoError(t, err)
			require.Equal(t, h, h2, "step %d hash after reopen", step)
			require.Equal(t, rev, rev2)
			require.Equal(t, m.ci, s.ConsistentIndex())
			checkLeases(step)
		default: // snapshot and restore into a fresh store
			sn, err := s.Snapshot()
			require.NoError(t, err)
			var buf bytes.Buffer
			_, err = sn.WriteTo(&buf)
			require.NoError(t, err)
			require.NoError(t, sn.Close())
			h, rev, err := s.Hash()
			require.NoError(t, err)
			require.NoError(t, s.Close())
			path = filepath.Join(dir, fmt.Sprintf("s%d.db", step))
			s, err = Open(path, cfgFor())
			require.NoError(t, err)
			require.NoError(t, s.Restore(&buf))
			h2, rev2, err := s.Hash()
			require.NoError(t, err)
			require.Equal(t, h, h2, "step %d hash after restore", step)
			require.Equal(t, rev, rev2)
			require.Equal(t, m.ci, s.ConsistentIndex())
			checkLeases(step)
		}
	}
	// Final full comparison at every revision.
	for rev := int64(1); rev <= m.rev; rev++ {
		want, _ := m.rangeModel([]byte{0}, []byte{0}, RangeOptions{Rev: rev}, m.rev)
		got, err := s.Range([]byte{0}, []byte{0}, RangeOptions{Rev: rev})
		require.NoError(t, err)
		require.Equal(t, want, got, "final state at rev %d", rev)
	}
}
