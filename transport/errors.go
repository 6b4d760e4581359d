package transport

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these (check
// with errors.Is); context errors are wrapped so that
// errors.Is(err, context.DeadlineExceeded) and errors.Is(err, context.Canceled)
// work as well.
var (
	// ErrClosed is returned by operations on a Transport after Close.
	ErrClosed = errors.New("transport: closed")

	// ErrNoHandler is returned by Call when the peer has no Handler
	// configured. The request reached the peer but nothing was executed.
	ErrNoHandler = errors.New("transport: no handler")

	// ErrUnreachable means the request was definitely NOT delivered to the
	// peer: dialing failed, the TLS handshake failed, the connection failed
	// before the request's bytes were handed to it, or the caller's context
	// ended before they were. Retrying cannot cause a duplicate execution.
	ErrUnreachable = errors.New("transport: peer unreachable, request not sent")

	// ErrConnLost means the connection failed after the request's bytes were
	// (at least partly) handed to it and before a response arrived. The
	// handler may or may not have run: the outcome is unknown.
	ErrConnLost = errors.New("transport: connection lost, outcome unknown")

	// ErrRemote is wrapped by a *RemoteError: the peer's Handler ran and
	// returned an error.
	ErrRemote = errors.New("transport: remote error")

	// ErrTooLarge is returned by Call when the request is larger than
	// MaxMessageSize (it is not sent), and by Join for one larger than
	// MaxJoinMessageSize. The decoders return it for a frame whose header
	// announces more than its kind's cap (MaxMessageSize for RPC frames,
	// MaxJoinMessageSize on a join connection, MaxRaftMessageSize for a
	// raft AppendEntries and far less for raft's other messages), before
	// reading or allocating the payload; the connection is then closed.
	ErrTooLarge = errors.New("transport: message too large")

	// ErrBadFrame is returned by the frame decoder for a malformed frame
	// (unknown kind, inconsistent fields). The connection is closed.
	ErrBadFrame = errors.New("transport: malformed frame")

	// ErrBadHeader is logged when an accepted connection starts with an
	// unknown protocol byte; the connection is closed.
	ErrBadHeader = errors.New("transport: unknown connection header")

	// ErrClusterMismatch means the peer at the address belongs to another
	// cluster (its Config.ClusterID differs). A dial wraps it with
	// ErrUnreachable: nothing was delivered. The accepting side logs it
	// and closes the connection.
	ErrClusterMismatch = errors.New("transport: peer belongs to another cluster")

	// ErrConnLimit is logged when an accepted connection is closed at once
	// because Config.MaxConns or Config.MaxConnsPerHost connections are
	// already open.
	ErrConnLimit = errors.New("transport: too many connections")

	// ErrInvalidConfig is returned by Listen for an unusable Config.
	ErrInvalidConfig = errors.New("transport: invalid config")
)

// errBadRaftMessage is the base of the raft codec's decoding errors: an
// ErrBadFrame whose text names the raft payload as the part that failed.
var errBadRaftMessage = fmt.Errorf("%w: raft message", ErrBadFrame)

// RemoteError is the error returned by Call when the peer's Handler returned
// an error. It wraps ErrRemote; Message is the remote error's text.
type RemoteError struct {
	// Addr is the address the call was made to.
	Addr string
	// Message is the text of the error returned by the remote Handler.
	Message string
}

// Error implements error.
func (e *RemoteError) Error() string {
	return "transport: remote error from " + e.Addr + ": " + e.Message
}

// Unwrap returns ErrRemote.
func (e *RemoteError) Unwrap() error { return ErrRemote }
