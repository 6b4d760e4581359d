// Package discovery is service discovery on Keel, in the spirit of etcd's
// naming/endpoints: instances register under a lease that is kept alive,
// and clients look them up or watch the set. It uses only the root
// package's public keel.Client interface.
//
//	reg := discovery.New(store, discovery.Config{})
//	r, _ := reg.Register(ctx, discovery.Instance{Service: "api", ID: "a1", Addr: "10.0.0.1:8080"})
//	defer r.Close()
//	for u := range reg.Watch(ctx, "api") { use(u.Instances) }
//
// # Layout
//
// An instance is stored under <prefix>/<service>/<id> (prefix
// DefaultPrefix unless Config.Prefix says otherwise) as the JSON encoding of
// Instance, attached to the registration's lease.
//
// # Guarantees
//
//   - Close deregisters at once (the lease is revoked). An instance whose
//     process died disappears when its lease expires: about Config.TTL
//     (raised to the store's minimum) plus a failover after its last
//     renewal.
//   - Lookup is a linearizable read.
//   - Watch first delivers the full set read at a revision R, then every
//     change from R+1 on, in revision order and without gaps; the changes
//     of one revision (a lease expiry removing many instances) arrive in
//     one Update. If compaction removed the history it needs, it re-lists
//     and delivers a full set again.
//
// # Caveats
//
//   - A registration whose lease is lost (for example a partition longer
//     than the TTL) is not re-created: Registration.Done closes and the
//     caller registers again.
//   - Registering an ID twice replaces the first record; closing the older
//     Registration then does not remove the newer one.
//   - Records that are not valid JSON for their key are skipped and logged.
package discovery
