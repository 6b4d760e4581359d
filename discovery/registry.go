package discovery

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/keeldb/keel"
)

// DefaultPrefix is the key prefix registrations live under when
// Config.Prefix is empty.
const DefaultPrefix = "keel/discovery"

// DefaultTTL is the lease TTL of a registration, in seconds, when
// Config.TTL is zero: how long a crashed instance stays listed at most
// (plus a failover; the store raises it to its minimum).
const DefaultTTL = 10

// Config configures a Registry. The zero value is usable.
type Config struct {
	// Prefix is the key prefix of all registrations, without a trailing
	// "/". Default DefaultPrefix.
	Prefix string
	// TTL is the lease TTL of each registration in seconds. Default
	// DefaultTTL.
	TTL int64
	// Logger receives warnings about undecodable records. nil = discard.
	Logger *slog.Logger
}

// Registry registers, looks up and watches service instances on a Keel
// client. It is safe for concurrent use.
type Registry struct {
	client keel.Client
	prefix string
	ttl    int64
	log    *slog.Logger
}

// New returns a Registry on client. It does not contact the store.
func New(client keel.Client, cfg Config) *Registry {
	r := &Registry{client: client, prefix: strings.TrimSuffix(cfg.Prefix, "/"), ttl: cfg.TTL, log: cfg.Logger}
	if r.prefix == "" {
		r.prefix = DefaultPrefix
	}
	if r.ttl <= 0 {
		r.ttl = DefaultTTL
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Registration is a registered instance, kept alive in the background.
// It is safe for concurrent use.
type Registration struct {
	r     *Registry
	inst  Instance
	key   string
	lease keel.LeaseID

	cancel    context.CancelFunc
	donec     chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Register puts in under <prefix>/<service>/<id>, attached to a new lease
// that is kept alive until Close (which deregisters at once) or until the
// process dies (the lease then expires and the store deletes the key).
// Registering an ID that is already registered replaces that record (a
// restarted instance takes over its old entry). ctx bounds only the calls
// Register makes.
func (r *Registry) Register(ctx context.Context, in Instance) (*Registration, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	val, err := encodeInstance(in)
	if err != nil {
		return nil, err
	}
	g, err := r.client.Grant(ctx, r.ttl)
	if err != nil {
		return nil, err
	}
	reg := &Registration{r: r, inst: in, key: instanceKey(r.prefix, in), lease: g.ID, donec: make(chan struct{})}
	revoke := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(g.TTL)*time.Second)
		_, _ = r.client.Revoke(rctx, g.ID)
		cancel()
	}
	if _, err := r.client.Put(ctx, reg.key, val, keel.WithLease(g.ID)); err != nil {
		revoke()
		return nil, err
	}
	kctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	ka, err := r.client.KeepAlive(kctx, g.ID)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		revoke()
		return nil, err
	}
	reg.cancel = cancel
	go func() {
		defer close(reg.donec)
		for range ka {
		}
	}()
	return reg, nil
}

// Instance returns the registered instance.
func (g *Registration) Instance() Instance { return g.inst }

// Key returns the key the instance is registered under.
func (g *Registration) Key() string { return g.key }

// Lease returns the registration's lease.
func (g *Registration) Lease() keel.LeaseID { return g.lease }

// Done returns a channel that is closed when the registration stops being
// kept alive: its lease was lost (expired, revoked) or the store closed,
// or Close was called. After a loss the instance is (or soon will be)
// deregistered; register again to reappear.
func (g *Registration) Done() <-chan struct{} { return g.donec }

// Close deregisters the instance at once by revoking its lease, and stops
// keeping it alive. It is idempotent; a lease already gone is not an error.
func (g *Registration) Close() error {
	g.closeOnce.Do(func() {
		g.cancel()
		<-g.donec
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(g.r.ttl)*time.Second)
		defer cancel()
		if _, err := g.r.client.Revoke(ctx, g.lease); err != nil && !errors.Is(err, keel.ErrLeaseNotFound) {
			g.closeErr = err
		}
	})
	return g.closeErr
}

// Lookup returns the registered instances of service, ordered by ID, with
// a linearizable read. Records that cannot be decoded are skipped (and
// logged).
func (r *Registry) Lookup(ctx context.Context, service string) ([]Instance, error) {
	if err := validService(service); err != nil {
		return nil, err
	}
	resp, err := r.client.Get(ctx, servicePrefix(r.prefix, service), keel.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if in, ok := r.decode(service, kv); ok {
			out = append(out, in)
		}
	}
	return out, nil
}

func (r *Registry) decode(service string, kv *keel.KeyValue) (Instance, bool) {
	in, err := decodeInstance(r.prefix, service, string(kv.Key), kv.Value)
	if err != nil {
		r.log.Warn("discovery: skipping record", "key", string(kv.Key), "err", err)
		return Instance{}, false
	}
	return in, true
}
