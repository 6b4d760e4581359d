// Package transport is Keel's member-to-member network layer: one TCP
// listener per member that multiplexes hashicorp/raft's traffic and Keel's
// own request/response RPCs (followers forwarding writes and read-index
// requests to the leader). It moves bytes; it knows nothing of KV types and
// imports no other Keel package.
//
// # Connections
//
// Every connection starts, after the TLS handshake when Config.TLS is set,
// with one header byte and the dialer's Config.ClusterID (8 bytes,
// big-endian): 'R' starts a raft connection (see Transport.Raft), 'K'
// starts a Keel RPC connection, which the acceptor acknowledges with 'K',
// and 'J' starts a join connection (Transport.Join), acknowledged with
// 'J', which carries one request and its reply from a process that is not
// a member yet: its cluster ID is not checked, and Config.JoinHandler
// authenticates it (JoinPeer gives it the verified TLS chain). Any other
// byte, a handshake and header not complete within
// Config.HandshakeTimeout, or a ClusterID other than the acceptor's closes the
// connection (logged); an RPC dial to a member of another cluster fails
// with ErrClusterMismatch (and ErrUnreachable: nothing was sent), so two
// clusters never exchange raft messages even when one reaches the other's
// address. With TLS the same *tls.Config is used to accept and
// to dial, so setting ClientCAs and ClientAuth gives mutual TLS on both
// protocols. Any certificate the CA accepts may speak raft: identity is not
// bound to a raft ServerID.
//
// # Raft
//
// Transport.Raft is a raft.Transport of its own rather than raft's
// NetworkTransport: requests and replies are encoded field by field
// (raft_codec.go) instead of with msgpack reflection, an AppendEntries'
// entries are decoded without a copy per entry, and the accepting side
// hands each request to raft from the connection's own goroutine. As with
// NetworkTransport, each dialed connection carries one request at a time
// (a pool of up to Config.MaxPool per peer), heartbeats bypass raft's main
// loop, and pipelined replication is not offered. A request to a peer that
// cannot be dialed keeps redialing for Config.RaftRedialWait (3 s) before
// it fails: raft doubles its pause after each failed request to a peer (up
// to 10 s), so failing at once would leave a member that restarts after a
// few seconds waiting seconds more for the leader.
//
// # RPCs
//
// Call is multiplexed and pipelined: concurrent calls to a peer share two
// persistent connections, each request carries an ID, the time left before
// the caller's deadline, and its payload (at most MaxMessageSize); the peer
// runs each request's Handler in its own goroutine and responses come back
// in any order. A connection that fails is redialed by the next Call.
//
// # Limits
//
// The listener is exposed to whoever can reach it, so every resource a
// connection can claim is capped:
//   - Lengths. Every length read from the network is checked against its
//     frame kind's constant cap before anything is read or allocated: an
//     RPC frame's payload against MaxMessageSize, a join request's against
//     MaxJoinMessageSize, a raft AppendEntries against MaxRaftMessageSize
//     and raft's other messages against caps of 64 KiB (votes, TimeoutNow,
//     replies) and 4 MiB (an InstallSnapshot's header). Too much is
//     ErrTooLarge and an unknown kind ErrBadFrame, and either closes the
//     connection. A payload's buffer grows with the bytes actually
//     received, so a header that lies about its length costs nothing;
//     inside a payload, every length and count is checked against the
//     bytes left (internal/wire).
//   - Handshakes. An accepted connection must complete its TLS handshake
//     and send its header and cluster ID within Config.HandshakeTimeout
//     (10 s), or it is closed.
//   - Connections. At most Config.MaxConns (1024) accepted connections are
//     open at once, and Config.MaxConnsPerHost (128) from one IP address;
//     one beyond either is closed as soon as it is accepted (logged with
//     ErrConnLimit, at most once a second).
//   - Handlers. At most Config.MaxHandlersPerConn (1024) Handler calls run
//     at once for one RPC connection. Requests beyond it wait, never fail:
//     the connection's reader stops until a handler returns, so the
//     sender is held back by TCP flow control.
//
// # Delivery guarantees
//
// Call reports whether a failed request may have run:
//   - ErrUnreachable: definitely not delivered; retrying cannot duplicate.
//   - ErrConnLost, or a context error without ErrUnreachable: the request was
//     handed to the connection and may or may not have run (unknown).
//   - ErrRemote, ErrNoHandler: the peer answered; the outcome is definite.
//
// A request counts as delivered from the moment the connection's writer
// starts encoding it, even if the bytes never leave the process: "unknown"
// is reported conservatively, never "not sent" for a request that was sent.
// There are no retries inside Call and no deduplication: callers that retry
// after an unknown outcome must make requests idempotent (e.g. with a client
// request ID).
//
// # Caveats
//
//   - Calls to this member's own address go over TCP like any other.
//   - An AppendEntries may be up to 1 GiB (it carries whole batches), an
//     InstallSnapshot's data is as long as its header says (it streams to
//     raft's snapshot store, not to memory), and raft and RPC connections
//     have no read deadline once their header is in (raft's pooled
//     connections idle by design). A peer that passes the handshake can
//     therefore hold its share of MaxConnsPerHost and send that much;
//     authenticating peers (mutual TLS) is the protection.
//   - Close waits for running Handlers: a Handler must honour its ctx.
//   - The RPC client keeps connections to every address it has called
//     until Close; there is no idle timeout.
package transport
