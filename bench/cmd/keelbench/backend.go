package main

import (
	"context"
	"fmt"
	"slices"
)

// backend is one running cluster of a target, driven through its leader.
// Every method is safe for concurrent use except Close, which is called
// once after the workloads returned.
type backend interface {
	// Put writes key = val and returns once the write is committed.
	Put(ctx context.Context, key, val string) error
	// Get reads key, linearizably unless serializable is set.
	Get(ctx context.Context, key string, serializable bool) (kv, error)
	// CAS puts key = val if key's mod revision is still modRev. It returns
	// whether it did, and otherwise key's current state (read in the same
	// transaction).
	CAS(ctx context.Context, key string, modRev int64, val string) (bool, kv, error)
	// Watch establishes a watch on every key under prefix and returns once
	// it is in place; the returned function delivers events to fn until
	// ctx is done (then it returns nil) or the watch fails.
	Watch(ctx context.Context, prefix string) (func(fn func(key, val []byte)) error, error)
	// Close stops the cluster and releases everything it holds.
	Close() error
}

// kv is a key's state as a read returned it.
type kv struct {
	Value  []byte
	ModRev int64
	Found  bool
}

// target describes one benchmarked configuration.
type target struct {
	// Name is the target's fixed name, e.g. "keel-3".
	Name string
	// Kind is the implementation: keel, etcd-direct, etcd-grpc, raft-boltdb.
	Kind string
	// Members is the cluster size.
	Members int
	// WritesOnly is set for targets that only run W1 and W2.
	WritesOnly bool
	// open starts a fresh cluster with its data under dir.
	open func(ctx context.Context, dir string, members int) (backend, error)
}

// supports reports whether t runs workload w.
func (t target) supports(w workloadID) bool {
	return !t.WritesOnly || w == workloadW1 || w == workloadW2
}

// targets lists every target in report order.
func targets() []target {
	var out []target
	for _, k := range []struct {
		kind       string
		writesOnly bool
		open       func(ctx context.Context, dir string, members int) (backend, error)
	}{
		{"keel", false, openKeel},
		{"etcd-direct", false, openEtcdDirect},
		{"etcd-grpc", false, openEtcdGRPC},
		{"raft-boltdb", true, openRaft},
	} {
		for _, n := range []int{1, 3} {
			out = append(out, target{
				Name: fmt.Sprintf("%s-%d", k.kind, n), Kind: k.kind, Members: n,
				WritesOnly: k.writesOnly, open: k.open,
			})
		}
	}
	return out
}

// targetNames lists the names of every target in report order.
func targetNames() []string {
	ts := targets()
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}

// lookupTarget returns the target called name.
func lookupTarget(name string) (target, bool) {
	ts := targets()
	i := slices.IndexFunc(ts, func(t target) bool { return t.Name == name })
	if i < 0 {
		return target{}, false
	}
	return ts[i], true
}

// sortTargets orders names as targets() does; unknown names go last.
func sortTargets(names []string) []string {
	order := targetNames()
	out := slices.Clone(names)
	slices.SortStableFunc(out, func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		return ia - ib
	})
	return out
}

// prefixEnd returns the end of the range of keys starting with prefix.
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}
