package wal

import (
	"slices"
)

// Set implements raft.StableStore. The value is copied. The whole stable
// state is rewritten atomically (write temp file, fsync, rename, fsync dir)
// before Set returns.
func (w *WAL) Set(key, val []byte) error {
	return w.setStable(func(m *meta) { m.KV[string(key)] = slices.Clone(val) })
}

// Get implements raft.StableStore. A missing key returns (nil, nil), which
// raft treats as "not set". The returned slice is a copy.
func (w *WAL) Get(key []byte) ([]byte, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.readableLocked(); err != nil {
		return nil, err
	}
	v, ok := w.meta.KV[string(key)]
	if !ok {
		return nil, nil
	}
	if v == nil {
		v = []byte{}
	}
	return slices.Clone(v), nil
}

// SetUint64 implements raft.StableStore. Like raft.InmemStore, uint64 keys
// live in their own namespace, separate from Set/Get.
func (w *WAL) SetUint64(key []byte, val uint64) error {
	return w.setStable(func(m *meta) { m.KVInt[string(key)] = val })
}

// GetUint64 implements raft.StableStore. A missing key returns (0, nil).
func (w *WAL) GetUint64(key []byte) (uint64, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.readableLocked(); err != nil {
		return 0, err
	}
	return w.meta.KVInt[string(key)], nil
}

func (w *WAL) setStable(update func(*meta)) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.RLock()
	err := w.usableLocked()
	w.mu.RUnlock()
	if err != nil {
		return err
	}
	m := w.meta.clone()
	update(&m)
	if err := writeMeta(w.fs, w.dir, m, w.cfg.NoSync); err != nil {
		return w.fail("write meta", err)
	}
	w.mu.Lock()
	w.meta = m
	w.mu.Unlock()
	return nil
}
