package logstore

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/raft"
)

// Store is a raft log store under test. Close releases its files and stops
// any goroutine it started.
type Store interface {
	raft.LogStore
	io.Closer
}

// Factory opens one kind of [Store]. The zero value is not usable; get
// factories from [All], [Default] or [Lookup].
type Factory struct {
	// Name is the stable identifier used in flags and reports.
	Name string
	// Description says what is measured, including the options used.
	Description string
	// open opens (creating if needed) a store whose files live in dir.
	open func(dir string) (Store, error)
}

// Open opens a store of this kind in dir, which must exist and should be
// empty for a fresh store.
func (f Factory) Open(dir string) (Store, error) {
	if dir == "" {
		return nil, ErrEmptyDir
	}
	s, err := f.open(dir)
	if err != nil {
		return nil, fmt.Errorf("logstore: open %s in %s: %w", f.Name, dir, err)
	}
	return s, nil
}

// All returns every known factory, in report order.
func All() []Factory {
	return []Factory{keelWAL(), raftBoltDB(), raftBoltDBNoFreelistSync(), raftWAL(), inmem()}
}

// Default returns the factories walbench runs when no -stores flag is given:
// every on-disk store.
func Default() []Factory {
	var out []Factory
	for _, f := range All() {
		if f.Name != InmemName {
			out = append(out, f)
		}
	}
	return out
}

// Lookup returns the factories named in a comma-separated list, in the order
// given. Duplicates and unknown names are errors wrapping [ErrUnknownStore].
func Lookup(list string) ([]Factory, error) {
	byName := make(map[string]Factory)
	for _, f := range All() {
		byName[f.Name] = f
	}
	seen := make(map[string]bool)
	var out []Factory
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		f, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownStore, name, strings.Join(Names(All()), ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: %q listed twice", ErrUnknownStore, name)
		}
		seen[name] = true
		out = append(out, f)
	}
	return out, nil
}

// Names returns the names of fs, in order.
func Names(fs []Factory) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}
