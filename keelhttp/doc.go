// Package keelhttp serves a Keel member's health, status and (optionally)
// metrics over HTTP, for load balancers, orchestrators and scrapers:
//
//	mux.Handle("/keel/", http.StripPrefix("/keel", keelhttp.NewHandler(store, keelhttp.Options{
//		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), // optional (package keelprom)
//	})))
//
// Endpoints (GET or HEAD; other methods get 405):
//
//   - /health: 200 when the member is healthy, 503 when not, with a JSON
//     body in etcd's shape: {"health":"true","reason":""} or
//     {"health":"false","reason":"..."}. Options.Health decides; by
//     default the member's Health does: healthy when it can serve a
//     linearizable read now (StatusHealth is a cheaper check: Status
//     succeeds and names a leader).
//   - /status: the member's own keel.StatusResponse (Status with
//     endpoint "") as JSON (encoding/json's rendering: Go field names),
//     or 503 with {"error":"..."}.
//   - /metrics: Options.Metrics, if set; 404 otherwise. keelhttp takes any
//     http.Handler there, so it depends on the standard library and the
//     keel package only; keelprom provides the Prometheus collectors.
//
// # Guarantees
//
//   - Every /health and /status call is bounded by Options.Timeout, so a
//     member that cannot answer (no quorum) answers 503 rather than hang
//     the prober.
//   - The handler has no state beyond its Options and is safe for
//     concurrent use.
package keelhttp
