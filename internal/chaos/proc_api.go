package chaos

import ()

// The control API: HTTP+JSON on 127.0.0.1, one POST endpoint per call.
// Request and response bodies are the types below.
const (
	pathExec        = "/exec"
	pathStatus      = "/status"
	pathHash        = "/hash"
	pathWatchStart  = "/watch-start"
	pathWatchStop   = "/watch-stop"
	pathGroundTruth = "/ground-truth"
	pathLeaseGrant  = "/lease-grant"
	pathLeasePut    = "/lease-put"
	pathLeaseRenew  = "/lease-keepalive"
)

// ExecRequest asks a member to execute one operation.
type ExecRequest struct {
	Input     Input `json:"input"`
	TimeoutMS int64 `json:"timeout_ms"`
}

// ExecResponse is the result of an ExecRequest, classified in the member
// with Classify.
type ExecResponse struct {
	Output  Output  `json:"output"`
	Outcome Outcome `json:"outcome"`
	Err     string  `json:"err,omitempty"`
}

// StatusResponse is a member's view of the cluster.
type StatusResponse struct {
	ID        string `json:"id"`
	Leader    string `json:"leader"`
	IsLeader  bool   `json:"is_leader"`
	Revision  int64  `json:"revision"`
	Applied   uint64 `json:"applied"`
	RaftIndex uint64 `json:"raft_index"`
	Term      uint64 `json:"term"`
	Pid       int    `json:"pid"`
}

// HashRequest asks for the state hash at Revision, after waiting until the
// member has applied it.
type HashRequest struct {
	Revision int64 `json:"revision"`
}

// HashResponse is a member's state hash: FNV-1a over every key-value
// (key, value, create/mod revision, version, lease) at Revision, read
// serializably, plus the member's current revision.
type HashResponse struct {
	Hash     uint64 `json:"hash"`
	Keys     int    `json:"keys"`
	Revision int64  `json:"revision"`
	Current  int64  `json:"current"`
}

// WatchStartRequest starts recording a watch under ID.
type WatchStartRequest struct {
	ID      string       `json:"id"`
	Request WatchRequest `json:"request"`
}

// WatchStopRequest stops the watch ID once it has seen Until (or after a
// few seconds) and returns its stream.
type WatchStopRequest struct {
	ID    string `json:"id"`
	Until int64  `json:"until"`
}

// GroundTruthRequest asks for every event from revision 1 to Until.
type GroundTruthRequest struct {
	Until int64 `json:"until"`
}

// errorResponse is the body of a non-200 answer.
type errorResponse struct {
	Err string `json:"err"`
}

// LeaseRequest grants a lease (TTL, seconds), renews one (ID) or puts Key
// attached to lease ID, with a timeout.
type LeaseRequest struct {
	ID        int64  `json:"id,omitempty"`
	TTL       int64  `json:"ttl,omitempty"`
	Key       string `json:"key,omitempty"`
	Value     string `json:"value,omitempty"`
	TimeoutMS int64  `json:"timeout_ms"`
}

// LeaseResponse is the lease ID and the TTL it was granted or renewed to.
type LeaseResponse struct {
	ID  int64 `json:"id"`
	TTL int64 `json:"ttl"`
}
