package keel

import (
	"errors"
	"fmt"

	"github.com/keeldb/keel/mvcc"
	"github.com/keeldb/keel/transport"
)

// Errors returned by Keel. Check them with errors.Is; the returned error may
// wrap one of these with more context.
//
// Keel has every error value of etcd's rpctypes package under etcd's name,
// so code ported from clientv3 that tests for them compiles and works.
// Where Keel already had a name for an error, etcd's spelling is the same
// value (ErrLeaseExist is ErrLeaseExists), so errors.Is matches either.
// The text of every error starts with "keel: ", not "etcdserver: ". Errors
// whose cause does not exist in Keel (authentication, downgrades, ...) are
// defined but never returned; each says so.
var (
	// ErrCompacted is returned when a read or watch asks for a revision that
	// compaction has removed. Reading at the compacted revision itself works.
	ErrCompacted = mvcc.ErrCompacted
	// ErrFutureRev is returned when a read asks for a revision greater than
	// the store's current revision.
	ErrFutureRev = mvcc.ErrFutureRev

	// ErrEmptyKey is returned when a request names an empty key.
	ErrEmptyKey = errors.New("keel: key is not provided")
	// ErrKeyNotFound is returned by Put with WithIgnoreValue or
	// WithIgnoreLease when the key does not exist.
	ErrKeyNotFound = errors.New("keel: key not found")
	// ErrValueProvided is returned by Put when WithIgnoreValue is combined
	// with a non-empty value.
	ErrValueProvided = errors.New("keel: value is provided")
	// ErrLeaseProvided is returned by Put when WithIgnoreLease is combined
	// with WithLease.
	ErrLeaseProvided = errors.New("keel: lease is provided")
	// ErrInvalidSortOption is returned by a Get (alone or in a Txn) whose
	// WithSort names a SortTarget or SortOrder that does not exist.
	ErrInvalidSortOption = errors.New("keel: invalid sort option")
	// ErrLeaseNotFound is returned when a request names a lease that does
	// not exist.
	ErrLeaseNotFound = errors.New("keel: requested lease not found")
	// ErrLeaseExists is returned by Grant when the chosen lease ID is taken
	// (Grant retries with another ID, so callers rarely see it).
	ErrLeaseExists = errors.New("keel: lease already exists")
	// ErrLeaseExist is ErrLeaseExists under etcd's name.
	ErrLeaseExist = ErrLeaseExists
	// ErrLeaseTTLTooLarge is returned by Grant for a TTL above MaxLeaseTTL.
	ErrLeaseTTLTooLarge = errors.New("keel: too large lease TTL")
	// ErrTooManyOps is returned when a transaction has more compares, or
	// more operations in one branch, than Config.MaxTxnOps allows.
	ErrTooManyOps = errors.New("keel: too many operations in txn request")
	// ErrDuplicateKey is returned when a transaction writes the same key
	// twice, or puts a key that it also deletes, in one branch.
	ErrDuplicateKey = errors.New("keel: duplicate key given in txn request")
	// ErrRequestTooLarge is returned when an encoded request exceeds
	// Config.MaxRequestBytes.
	ErrRequestTooLarge = errors.New("keel: request is too large")
	// ErrInvalidOption is returned when an Op or Cmp was built with options
	// that do not apply to it (for example WithLimit on a Put), or with an
	// invalid compare operator or value type. GetStream returns it for a
	// sort other than key order and for the min/max revision filters,
	// where etcd answers Unimplemented.
	ErrInvalidOption = errors.New("keel: invalid option")
	// ErrInvalidTxn is returned when Txn's If, Then or Else is called twice,
	// or out of order (If after Then, Then after Else).
	ErrInvalidTxn = errors.New("keel: invalid txn")

	// ErrNoLeader is returned when no leader could be found before the
	// request's context expired, or at once, for a call made with a
	// context from WithRequireLeader, when this member knows no leader.
	// The request was not applied.
	ErrNoLeader = errors.New("keel: no leader")
	// ErrNotLeader marks a request that a member refused because it does
	// not lead: refused before entering the raft log, so safe to retry.
	// Calls forward to the leader and retry, so callers rarely see it.
	ErrNotLeader = errors.New("keel: not the leader")
	// ErrTimeout is returned when the outcome of a write is unknown: the
	// context expired after the request was proposed or forwarded, or the
	// leader was lost before the request committed. The write may or may
	// not have been applied; read the key to find out. The errors below
	// that name a cause wrap it.
	ErrTimeout = errors.New("keel: request timed out, outcome unknown")
	// ErrTimeoutDueToLeaderFail is the ErrTimeout of a write whose leader
	// (this member) lost leadership before the write committed.
	ErrTimeoutDueToLeaderFail = fmt.Errorf("%w: possibly due to previous leader failure", ErrTimeout)
	// ErrTimeoutDueToConnectionLost is the ErrTimeout of a write forwarded
	// to the leader whose connection failed after the write was sent and
	// before the reply came.
	ErrTimeoutDueToConnectionLost = fmt.Errorf("%w: possibly due to connection lost", ErrTimeout)
	// ErrTimeoutWaitAppliedIndex is the ErrTimeout of a call whose context
	// expired while this member applied the log up to the index the call
	// needs (a linearizable read's read index, a membership change).
	ErrTimeoutWaitAppliedIndex = fmt.Errorf("%w: waiting for the applied index took too long", ErrTimeout)
	// ErrStopped is returned by calls made after Close, or interrupted by it.
	ErrStopped = errors.New("keel: store is stopped")
	// ErrClosed is an alias of ErrStopped, for callers used to that name.
	ErrClosed = ErrStopped
	// ErrLeaderChanged is etcd's error for a linearizable read or lease
	// lookup interrupted by a leader change. Keel retries those with the
	// new leader instead, so it never returns it.
	ErrLeaderChanged = errors.New("keel: leader changed")
	// ErrNotCapable is etcd's error for a feature the cluster's version
	// does not support. Every Keel member supports every call, so it is
	// never returned.
	ErrNotCapable = errors.New("keel: not capable")
	// ErrTooManyRequests is etcd's error for a request refused because the
	// member's applied index lags its commit index too far. Keel does not
	// refuse requests for that, so it is never returned.
	ErrTooManyRequests = errors.New("keel: too many requests")

	// ErrInvalidConfig is returned by Open when the Config is unusable.
	ErrInvalidConfig = errors.New("keel: invalid config")
	// ErrCorruptCommand is returned when a replicated command or a
	// forwarded message cannot be decoded.
	ErrCorruptCommand = errors.New("keel: corrupt command")
	// ErrHandleClosed is returned by a Lease or Watcher handle from
	// NewLease or NewWatcher after its Close (for a KeepAlive, as the
	// Reason of an ErrKeepAliveHalted).
	ErrHandleClosed = errors.New("keel: handle is closed")

	// ErrMemberNotFound is returned by membership calls naming a member ID
	// the cluster does not have.
	ErrMemberNotFound = errors.New("keel: member not found")
	// ErrMemberExists is returned when a member joins with the ID (Name) of
	// a current member whose member ID differs: a second process with the
	// same Config.ID, or a member that lost its Dir and must be removed
	// before it joins again.
	ErrMemberExists = errors.New("keel: member already exists")
	// ErrMemberExist is ErrMemberExists under etcd's name.
	ErrMemberExist = ErrMemberExists
	// ErrPeerURLExists is returned by MemberAdd and MemberUpdate when
	// another member already has the address.
	ErrPeerURLExists = errors.New("keel: peer URL already exists")
	// ErrPeerURLExist is ErrPeerURLExists under etcd's name.
	ErrPeerURLExist = ErrPeerURLExists
	// ErrInvalidPeerURL is returned by MemberAdd and MemberUpdate unless
	// they are given exactly one address, "host:port" (an "http://" or
	// "https://" prefix, as etcd peer URLs have, is accepted and dropped).
	ErrInvalidPeerURL = errors.New("keel: invalid peer URL")
	// ErrMemberBadURLs is ErrInvalidPeerURL under etcd's name.
	ErrMemberBadURLs = ErrInvalidPeerURL
	// ErrMemberNotLearner is returned by MemberPromote for a voter.
	ErrMemberNotLearner = errors.New("keel: can only promote a learner member")
	// ErrLearnerNotReady is returned by MemberPromote when the learner's
	// raft log is more than PromoteMaxLag entries behind the leader's, or
	// the leader cannot reach it.
	ErrLearnerNotReady = errors.New("keel: can only promote a learner member which is in sync with leader")
	// ErrMemberLearnerNotReady is ErrLearnerNotReady under etcd's name.
	ErrMemberLearnerNotReady = ErrLearnerNotReady
	// ErrTooManyLearners is etcd's error for a learner added beyond its
	// --max-learners. Keel does not limit learners, so it is never
	// returned.
	ErrTooManyLearners = errors.New("keel: too many learner members in cluster")
	// ErrBadLeaderTransferee is returned by MoveLeader when the target is
	// not a voter of the cluster.
	ErrBadLeaderTransferee = errors.New("keel: bad leader transferee")
	// ErrUnhealthy is returned when a membership change would leave fewer
	// reachable voters than a quorum of the new configuration (use
	// WithForce to remove anyway), or remove the last voter.
	ErrUnhealthy = errors.New("keel: unhealthy cluster")
	// ErrMemberNotEnoughStarted is the ErrUnhealthy of a removal refused
	// because fewer voters than a quorum of the remaining ones would be
	// reachable (etcd's strict reconfiguration check).
	ErrMemberNotEnoughStarted = fmt.Errorf("%w: re-configuration failed due to not enough started members", ErrUnhealthy)
	// ErrClusterIDMismatch means a member reached at an address belongs to
	// another cluster: the transport's ErrClusterMismatch, which errors
	// from calls that reach such a member wrap.
	ErrClusterIDMismatch = transport.ErrClusterMismatch
	// ErrClusterIdMismatch is ErrClusterIDMismatch.
	//
	// Deprecated: use ErrClusterIDMismatch (etcd deprecates this spelling
	// too).
	ErrClusterIdMismatch = ErrClusterIDMismatch
	// ErrChangeInProgress is returned when a membership change is asked
	// for while another is still being made and does not finish within an
	// ElectionTimeout: changes are made one at a time. Retry it.
	ErrChangeInProgress = errors.New("keel: another membership change is in progress")
	// ErrRemoved is returned by every call on a member that was removed
	// from its cluster, and by Open for a Dir whose member was removed.
	// It wraps ErrStopped.
	ErrRemoved = fmt.Errorf("keel: the member was removed from the cluster: %w", ErrStopped)
	// ErrJoinRefused is returned by Open when the cluster refuses the
	// join: with TLS, the certificate is not valid for the cluster's CA or
	// does not name Config.ID; without TLS, Config.ClusterToken does not
	// match the cluster's (or the cluster has none).
	ErrJoinRefused = errors.New("keel: join refused")

	// ErrNoSpace is returned by a write that adds data (Put, a Txn whose
	// executed branch puts, Grant) while the space quota is exhausted: the
	// request would take this member's database over Config.QuotaBytes, or
	// some member has raised a NOSPACE alarm. The write was not applied.
	// Reads, deletes, revokes and compaction keep working, and the alarm
	// clears by itself once space is freed (see doc.go, "Space quota").
	ErrNoSpace = errors.New("keel: database space exceeded")
	// ErrCorrupt is returned when a member's data was found to diverge
	// from the cluster's (a CORRUPT alarm is raised for it): Health
	// reports it for that member.
	ErrCorrupt = errors.New("keel: member data is corrupt")

	// ErrBadBackup is returned by RestoreMember and VerifyBackup for a
	// backup that is not complete and intact: not a Keel backup, an
	// unsupported format version, a damaged header, a truncated body or
	// trailer, a checksum mismatch, data after the trailer, or a database
	// that does not load. RestoreMember leaves Dir empty when it returns
	// it.
	ErrBadBackup = mvcc.ErrBadBackup
)

// etcd's authentication errors. Keel has no users, roles or permissions
// (the embedding process authorises its own callers; members authenticate
// each other with TLS or the cluster token), so none is ever returned.
var (
	ErrRootUserNotExist     = errors.New("keel: root user does not exist")
	ErrRootRoleNotExist     = errors.New("keel: root user does not have root role")
	ErrUserAlreadyExist     = errors.New("keel: user name already exists")
	ErrUserEmpty            = errors.New("keel: user name is empty")
	ErrUserNotFound         = errors.New("keel: user name not found")
	ErrRoleAlreadyExist     = errors.New("keel: role name already exists")
	ErrRoleNotFound         = errors.New("keel: role name not found")
	ErrRoleEmpty            = errors.New("keel: role name is empty")
	ErrAuthFailed           = errors.New("keel: authentication failed, invalid user ID or password")
	ErrPermissionDenied     = errors.New("keel: permission denied")
	ErrRoleNotGranted       = errors.New("keel: role is not granted to the user")
	ErrPermissionNotGranted = errors.New("keel: permission is not granted to the role")
	ErrAuthNotEnabled       = errors.New("keel: authentication is not enabled")
	ErrInvalidAuthToken     = errors.New("keel: invalid auth token")
	ErrAuthOldRevision      = errors.New("keel: revision of auth store is old")
	ErrInvalidAuthMgmt      = errors.New("keel: invalid auth management")
)

// etcd's cluster-version downgrade errors. Every Keel member of a cluster
// runs the library version its process was built with and there is no
// downgrade API, so none is ever returned.
var (
	ErrClusterVersionUnavailable     = errors.New("keel: cluster version not found during downgrade")
	ErrWrongDowngradeVersionFormat   = errors.New("keel: wrong downgrade target version format")
	ErrInvalidDowngradeTargetVersion = errors.New("keel: invalid downgrade target version")
	ErrDowngradeInProcess            = errors.New("keel: cluster has a downgrade job in progress")
	ErrNoInflightDowngrade           = errors.New("keel: no inflight downgrade job")
)

// ErrKeepAliveHalted is returned by KeepAlive when it can no longer keep
// leases alive, as clientv3's is: by a Lease handle from NewLease after its
// Close, with Reason ErrHandleClosed. errors.Is sees through it to Reason.
type ErrKeepAliveHalted struct {
	Reason error
}

func (e ErrKeepAliveHalted) Error() string {
	s := "keel: leases keep alive halted"
	if e.Reason != nil {
		s += ": " + e.Reason.Error()
	}
	return s
}

// Unwrap returns Reason.
func (e ErrKeepAliveHalted) Unwrap() error { return e.Reason }
