// Package registry is a stand-in for a service that embeds Keel: it keeps
// the addresses of worker instances in a Keel store.
package registry

import (
	"context"
	"fmt"

	"github.com/keeldb/keel"
)

// Registry records workers under a key prefix.
type Registry struct{ kv keel.KV }

// New returns a Registry over kv.
func New(kv keel.KV) *Registry { return &Registry{kv: kv} }

// Add records worker name at addr.
func (r *Registry) Add(ctx context.Context, name, addr string) error {
	_, err := r.kv.Put(ctx, "workers/"+name, addr)
	return err
}

// Count returns how many workers are recorded.
func (r *Registry) Count(ctx context.Context) (int64, error) {
	gr, err := r.kv.Get(ctx, "workers/", keel.WithPrefix(), keel.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("registry: %w", err)
	}
	return gr.Count, nil
}
