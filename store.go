package keel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/durable"
	"github.com/keeldb/keel/internal/logging"
	"github.com/keeldb/keel/mvcc"
	"github.com/keeldb/keel/transport"
	"github.com/keeldb/keel/wal"
)

// Store is one member of a Keel cluster: a replicated, multi-version
// key-value store that the embedding process reads and writes directly.
// Every member accepts every call; writes made on a follower are forwarded
// to the leader. Store is safe for concurrent use by multiple goroutines.
type Store struct {
	cfg Config
	log *slog.Logger
	id  identity
	// memberID and clusterID are the numbers in response headers: the
	// identity's, set again when a joining member is admitted (while its
	// raft node may already apply entries).
	memberID  atomic.Uint64
	clusterID atomic.Uint64

	kv    *mvcc.Store
	wal   *wal.WAL
	snaps *snapshotStore
	trans *transport.Transport

	// logReadErr is the first error raft met reading an entry from wal
	// (failSafeLogs); it makes the member fail-stop.
	logReadErr atomic.Pointer[error]

	// durable is the raft transport handed to raft (package durable).
	durable *durable.Transport
	raft    *raft.Raft
	// raftRef is raft once NewRaft returned (read by the WAL, which raft
	// calls from its own goroutines before s.raft is set).
	raftRef atomic.Pointer[raft.Raft]
	fsm     *fsm
	reads   *readIndexer
	lead    leaderState
	leases  *lessor
	props   *proposals
	batch   *proposalBatch
	probes  *probes
	quota   quotaState
	// defragSlot is the cluster's automatic-defragmentation slot, kept
	// by the leader (autodefrag.go).
	defragSlot defragSlot
	// noLeader holds the streams made WithRequireLeader
	// (requireleader.go).
	noLeader leaderMonitor
	// watchHdr is the header watch responses share (header.go).
	watchHdr atomic.Pointer[ResponseHeader]
	// streamChunks, if set (tests), overrides GetStream's chunk bounds.
	streamChunks chunkBounds

	// reconfig holds a token while a membership change runs, so changes
	// are made one at a time (reconfig.go); reconfigHook, if set (tests),
	// runs while a change holds it.
	reconfig     chan struct{}
	reconfigHook atomic.Pointer[func()]
	// changeWaits counts raftChange's waiters on raft futures (see
	// settleChanges).
	changeWaits atomic.Int64
	// loseChangeReply (tests) turns the reply to the next change made on
	// this leader into ErrTimeout, as if lost, after running the function
	// it holds (the change lock is free by then).
	loseChangeReply atomic.Pointer[func()]
	// selfCheck asks memberLoop to confirm with the cluster that this
	// member still belongs to it (set when a member with state reopens).
	selfCheck atomic.Bool
	// removed is set once this member learns it was removed.
	removed atomic.Bool

	// met holds the counters and histograms Metrics reports.
	met *storeMetrics

	started   chan struct{} // closed once raft runs; RPCs wait for it
	stop      chan struct{} // closed by Close
	stopCtx   context.Context
	stopCause context.CancelFunc // cancels stopCtx; called where stop closes
	wg        sync.WaitGroup
	// goMu guards goClosed, set by Close before it waits for wg, after
	// which goRequest starts nothing.
	goMu      sync.Mutex
	goClosed  bool
	closeOnce sync.Once
	closeErr  error
}

var (
	_ KV     = (*Store)(nil)
	_ Client = (*Store)(nil)
)

// Open opens (creating if needed) the member whose data lives in cfg.Dir
// and starts serving. A single-member cluster (no Peers) is bootstrapped on
// first use, and Open returns once it has elected itself and can serve. A
// member of a multi-member cluster returns once its raft node runs, so the
// members can be opened one after another; calls made before a quorum is up
// wait for a leader until their context expires. Reopening a Dir restores
// its data and membership.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: Dir is required", ErrInvalidConfig)
	}
	if err := createDir(cfg.Dir); err != nil {
		return nil, fmt.Errorf("keel: create Dir: %w", err)
	}
	id, err := loadIdentity(cfg.Dir, cfg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		cfg: cfg, log: cfg.Logger.With("member", id.MemberID), id: id,
		started: make(chan struct{}), stop: make(chan struct{}),
		reconfig: make(chan struct{}, 1),
	}
	s.memberID.Store(id.number())
	s.clusterID.Store(id.ClusterID)
	s.stopCtx, s.stopCause = context.WithCancel(context.Background())
	s.lead.init()
	s.props = newProposals()
	s.met = newStoreMetrics()
	// raft's future is not awaited (see proposals): the FSM delivers.
	s.batch = newProposalBatch(func(p queuedProposal) { _ = s.raft.Apply(p.data, p.enqueueTimeout()) })
	s.reads = newReadIndexer(s)
	s.probes = newProbes(s)
	s.quota.kick = make(chan struct{}, 1)
	if err := s.open(); err != nil {
		s.closeParts(false)
		return nil, err
	}
	if cfg.TestHooks != nil {
		cfg.TestHooks.BindCrash(s.crash)
	}
	if s.id.ClusterID == 0 {
		if err := s.joinAndCatchUp(); err != nil {
			_ = s.close(false)
			return nil, err
		}
	}
	if s.isSingleVoter() {
		restore := s.electAlone()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := s.lead.waitReady(ctx, s.stop)
		restore()
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("keel: single member did not become leader: %w", err)
		}
	}
	return s, nil
}

// electAlone makes the only voter start its election now instead of after
// a heartbeat timeout, so a single-member store serves at once with the
// same timeouts as a cluster member (and keeps them when others join).
// raft starts a follower's election timer over when ReloadConfig lowers
// its heartbeat timeout; the heartbeat timeout may not go below the
// leader lease, so this works whenever the lease is shorter (the
// default). The returned function restores the configured timeouts.
func (s *Store) electAlone() (restore func()) {
	rc := s.raft.ReloadableConfig()
	if s.cfg.LeaderLeaseTimeout >= rc.HeartbeatTimeout {
		return func() {}
	}
	fast := rc
	fast.HeartbeatTimeout, fast.ElectionTimeout = s.cfg.LeaderLeaseTimeout, s.cfg.LeaderLeaseTimeout
	if err := s.raft.ReloadConfig(fast); err != nil {
		s.log.Warn("could not speed up the first election", "err", err)
		return func() {}
	}
	return func() {
		if err := s.raft.ReloadConfig(rc); err != nil {
			s.log.Warn("could not restore raft timeouts", "err", err)
		}
	}
}

// open starts the components in dependency order. On error, closeParts
// releases whatever was opened.
func (s *Store) open() error {
	cfg := s.cfg
	hl := logging.HCLog(cfg.Logger, "raft")
	var err error
	s.kv, err = mvcc.Open(filepath.Join(cfg.Dir, "kv.db"), mvcc.Config{
		Logger: s.log, CommitInterval: cfg.CommitInterval,
		WatchProgressInterval: cfg.WatchProgressNotifyInterval, ObserveCommit: s.met.dbCommit.Observe,
	})
	if err != nil {
		return fmt.Errorf("keel: open kv: %w", err)
	}
	s.wal, err = wal.Open(filepath.Join(cfg.Dir, "wal"), wal.Config{
		Logger: s.log, SegmentSize: cfg.WALSegmentSize, FS: cfg.WALFS,
		DeferSync: true, DeferWhen: s.leading, // see package durable
		ObserveSync: s.met.walFsync.Observe,
	})
	if err != nil {
		return fmt.Errorf("keel: open wal: %w", err)
	}
	s.snaps, err = newSnapshotStore(cfg.Dir, 2, hl.Named("snapshots"))
	if err != nil {
		return fmt.Errorf("keel: open snapshots: %w", err)
	}
	// wal/ and snapshots/ are durable entries of Dir before raft starts.
	if err := s.syncDataDir(); err != nil {
		return fmt.Errorf("keel: fsync Dir: %w", err)
	}
	s.trans, err = transport.Listen(transport.Config{
		Addr: cfg.Addr, AdvertiseAddr: cfg.AdvertiseAddr, TLS: cfg.TLS, ClusterID: s.id.ClusterID,
		Logger: s.log, Handler: s.handleRPC, Inline: s.inlineRPC, JoinHandler: s.handleJoin,
		Listener: cfg.Listener, Dial: cfg.Dial,
	})
	if err != nil {
		return fmt.Errorf("keel: listen: %w", err)
	}

	rc := s.raftConfig(hl)
	snapList, err := s.snaps.List()
	if err != nil {
		return fmt.Errorf("keel: list snapshots: %w", err)
	}
	// Skip restoring the newest snapshot only if the database already holds
	// everything it does (the consistent-index rule); otherwise restore it.
	rc.NoSnapshotRestoreOnStart = len(snapList) > 0 && s.kv.ConsistentIndex() >= snapList[0].Index

	stable := failSafeStable{WAL: s.wal, log: s.log}
	has, err := raft.HasExistingState(s.wal, stable, s.snaps)
	if err != nil {
		return fmt.Errorf("keel: read raft state: %w", err)
	}
	if has {
		// It may have been removed, or have moved, while it was down.
		s.selfCheck.Store(s.id.ClusterID != 0)
	} else if s.id.Restored {
		if err := s.bootstrapRestored(); err != nil {
			return fmt.Errorf("keel: bootstrap restored member: %w", err)
		}
		rc.NoSnapshotRestoreOnStart = true // the database is the snapshot's state
	} else if s.id.ClusterID != 0 {
		if err := raft.BootstrapCluster(rc, s.wal, stable, s.snaps, s.trans.Raft(), s.bootstrapConfiguration()); err != nil {
			return fmt.Errorf("keel: bootstrap: %w", err)
		}
	}
	s.fsm = newFSM(s.kv, s.log)
	if err := s.fsm.loadAlarms(); err != nil {
		return fmt.Errorf("keel: open kv: %w", err)
	}
	s.fsm.deliver = s.props.deliver
	s.fsm.waitDurable = func(idx uint64) error { return s.wal.WaitDurable(s.stopCtx, idx) }
	s.fsm.membersChanged = s.onMembersChanged
	s.fsm.newestSnapshot = s.newestSnapshot
	s.fsm.seedConf(s.newestSnapshot()) // raft replays the entries after it
	s.fsm.met = s.met
	s.leases = newLessor(s)
	s.leases.reload()
	s.fsm.leases = s.leases
	s.durable = durable.NewTransport(s.stopCtx, s.trans.Raft(), durable.WAL{
		Pending: s.walPending, Durable: s.wal.Durable, WaitDurable: s.wal.WaitDurable,
	})
	s.raft, err = s.newRaft(rc, stable)
	if err != nil {
		return fmt.Errorf("keel: start raft: %w", err)
	}
	s.raftRef.Store(s.raft)
	close(s.started)
	events := s.observeRaft()
	s.wg.Go(func() { s.raftEvents(events) })
	s.wg.Go(s.leaderLoop)
	s.wg.Go(s.monitorLeader)
	s.wg.Go(s.reads.run)
	s.wg.Go(s.autoCompactLoop)
	s.wg.Go(s.healthLoop)
	s.wg.Go(s.leases.run)
	s.wg.Go(s.leases.expireLoop)
	s.wg.Go(s.memberLoop)
	s.wg.Go(s.quotaLoop)
	s.wg.Go(s.autoDefragLoop)
	s.wg.Go(s.corruptLoop)
	return nil
}

// raftConfig maps Config to raft's configuration: LAN timeouts, pre-vote
// (raft's default with our transport), large batches and a buffered apply
// channel (Keel bounds waiting with contexts, not with raft's timeouts).
func (s *Store) raftConfig(hl hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.id.MemberID)
	rc.Logger = hl
	rc.HeartbeatTimeout = s.cfg.HeartbeatTimeout
	rc.ElectionTimeout = s.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = s.cfg.LeaderLeaseTimeout
	rc.SnapshotThreshold = s.cfg.SnapshotThreshold
	rc.SnapshotInterval = s.cfg.SnapshotInterval
	rc.TrailingLogs = s.cfg.TrailingLogs
	rc.MaxAppendEntries = s.cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.NoLegacyTelemetry = true
	// Keel stops a removed member itself (onMembersChanged, checkSelf),
	// after it has stopped serving; raft would only shut a removed leader
	// down, and Keel's leaders hand leadership away before their removal.
	rc.ShutdownOnRemove = false
	return rc
}

func (s *Store) bootstrapConfiguration() raft.Configuration {
	if len(s.cfg.Peers) == 0 {
		return raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(s.id.MemberID), Address: raft.ServerAddress(s.trans.Addr()),
		}}}
	}
	var c raft.Configuration
	for _, p := range s.cfg.Peers {
		addr := p.Addr
		if p.ID == s.id.MemberID {
			addr = s.trans.Addr()
		}
		c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(addr)})
	}
	return c
}

// isSingleVoter reports whether this member is the only voter.
func (s *Store) isSingleVoter() bool {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	servers := f.Configuration().Servers
	return len(servers) == 1 && servers[0].ID == raft.ServerID(s.id.MemberID) && servers[0].Suffrage == raft.Voter
}

// Close stops the member: it hands leadership to another voter if it leads
// (so the cluster fails over at once), stops raft, every goroutine and
// listener, and closes its files. Calls in flight return ErrStopped (or
// ErrTimeout if a write's outcome is unknown). Close is idempotent.
func (s *Store) Close() error {
	return s.close(true)
}

func (s *Store) close(transfer bool) error {
	s.closeOnce.Do(func() {
		s.stopRedialing()
		// A member whose storage failed may have lost raft's main loop
		// (failSafeLogs), which would never answer the transfer.
		if transfer && s.raft != nil && s.storageErr() == nil && s.raft.State() == raft.Leader && !s.isSingleVoter() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.ElectionTimeout)
			if err := s.awaitTransfer(ctx, s.raft.LeadershipTransfer()); err != nil {
				s.log.Warn("leadership transfer on close failed", "err", err)
			}
			cancel()
		}
		close(s.stop)
		s.stopCause()
		s.closeErr = s.closeParts(false)
	})
	return s.closeErr
}

// crash stops the member the way a killed process would stop (for tests):
// no leadership hand-over, the key-value database keeps only what it had
// committed, and the raft log is closed without syncing (its unsynced
// writes survive unless the test's file system then drops them, as a power
// cut would); on reopen the raft log replays the rest.
func (s *Store) crash() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.stopCause()
		s.closeErr = s.closeParts(true)
	})
	return s.closeErr
}

// closeParts shuts down whatever open started, in reverse order; abandon
// drops the database's uncommitted changes instead of committing them and
// closes the raft log without syncing it.
func (s *Store) closeParts(abandon bool) error {
	var errs []error
	s.stopRedialing()
	if s.raft != nil {
		if !abandon {
			// Not on a crash: a killed process does not wait, and a test's
			// power cut may have failed the files raft still reads.
			s.settleChanges()
		}
		errs = append(errs, s.raft.Shutdown().Error())
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
		s.stopCause()
	}
	s.goMu.Lock()
	s.goClosed = true
	s.goMu.Unlock()
	s.wg.Wait()
	if s.trans != nil {
		errs = append(errs, s.trans.Close())
	}
	if s.durable != nil {
		s.durable.WaitHeld() // before the WAL they wait on closes
	}
	if s.wal != nil {
		if abandon {
			errs = append(errs, s.wal.Abandon())
		} else {
			errs = append(errs, s.wal.Close())
		}
	}
	if s.kv != nil {
		if abandon {
			errs = append(errs, s.kv.Abandon())
		} else {
			errs = append(errs, s.kv.Close())
		}
	}
	return errors.Join(errs...)
}

// stopRedialing makes raft requests to unreachable peers fail at once, so
// that shutting raft down (which waits for its per-peer goroutines) never
// waits out transport.Config.RaftRedialWait for a peer that is down.
func (s *Store) stopRedialing() {
	if s.trans != nil {
		s.trans.Raft().StopRedialing()
	}
}

// errStopped is the error of a call on a stopped member: ErrRemoved if it
// was removed from the cluster, else ErrStopped.
func (s *Store) errStopped() error {
	if s.removed.Load() {
		return ErrRemoved
	}
	return ErrStopped
}

// Err reports why the member stopped serving: nil while it runs,
// ErrRemoved once it was removed from the cluster, ErrStopped after Close
// (or after a storage failure made it stop; the log says which).
func (s *Store) Err() error {
	if s.removed.Load() {
		return ErrRemoved
	}
	if s.stopped() {
		return ErrStopped
	}
	return nil
}

// joinAndCatchUp joins the cluster through Config.Join and waits until
// this member serves, within JoinTimeout.
func (s *Store) joinAndCatchUp() error {
	if len(s.cfg.Join) == 0 {
		return fmt.Errorf("%w: Dir %s has not joined a cluster yet: set Join", ErrInvalidConfig, s.cfg.Dir)
	}
	ctx, cancel := context.WithTimeout(s.stopCtx, s.cfg.JoinTimeout)
	defer cancel()
	if err := s.join(ctx); err != nil {
		return err
	}
	return s.waitServing(ctx)
}

// goRequest runs f in a goroutine that Close waits for before it closes
// the database, for a call's work that outlives the call (a Snapshot's
// stream); f must end soon once stopCtx is canceled. On a stopping Store
// it runs nothing and returns false.
func (s *Store) goRequest(f func()) bool {
	s.goMu.Lock()
	defer s.goMu.Unlock()
	if s.goClosed || s.stopped() {
		return false
	}
	s.wg.Go(f)
	return true
}

func (s *Store) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// leading reports whether raft runs and this member leads: the WAL defers
// its syncs only then (see package durable).
func (s *Store) leading() bool {
	r := s.raftRef.Load()
	return r != nil && r.State() == raft.Leader
}

// walPending reports whether some entry the WAL holds is not durable yet.
func (s *Store) walPending() bool {
	last, err := s.wal.LastIndex()
	return err != nil || s.wal.Durable() < last
}
