package keel

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
	"github.com/keeldb/keel/transport"
)

// Joining. A process started with Config.Join and a Dir that has no
// cluster yet sends a join request over a join connection
// (transport.Join) to the Join addresses in turn:
//
//	request = token:bytes name:bytes addr:bytes id:uvarint
//	          flags:byte(1 learner|2 preflight)
//	reply   = code:byte [clusterID:uvarint id:uvarint]
//
// The member it reaches authorises the request (authoriseJoin). A
// preflight request is answered at once with the cluster's ID (id 0): the
// joiner takes it, so that members accept its connections and it theirs
// before the leader adds it (the leader's first replication then finds it
// listening for this cluster). The joiner then sends the request proper,
// which the member forwards to the leader as a changeJoin: the leader
// records the member and adds it to raft's configuration as a learner
// (admit). It catches up, and the leader promotes it once it keeps up
// (probe.go).

// joinRequest is a decoded join request.
type joinRequest struct {
	token, name, addr  string
	id                 uint64
	learner, preflight bool
}

func (r *joinRequest) encode() []byte {
	e := wire.Encoder{Buf: make([]byte, 0, 32+len(r.token)+len(r.name)+len(r.addr))}
	e.Bytes([]byte(r.token))
	e.Bytes([]byte(r.name))
	e.Bytes([]byte(r.addr))
	e.Uvarint(r.id)
	e.Byte(flags(r.learner, r.preflight))
	return e.Buf
}

func decodeJoinRequest(b []byte) (joinRequest, error) {
	d := wire.NewDecoder(b, ErrCorruptCommand)
	r := joinRequest{token: string(d.Bytes()), name: string(d.Bytes()), addr: string(d.Bytes()), id: d.Uvarint()}
	f := d.Byte()
	if f&^3 != 0 {
		d.Fail("unknown join flags")
	}
	r.learner, r.preflight = f&1 != 0, f&2 != 0
	return r, d.Finish()
}

// handleJoin serves a join request (transport.Config.JoinHandler).
func (s *Store) handleJoin(ctx context.Context, req []byte, peer transport.JoinPeer) ([]byte, error) {
	select {
	case <-s.started:
	case <-s.stop:
		return nil, s.errStopped()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r, err := decodeJoinRequest(req)
	if err == nil {
		err = s.authoriseJoin(r.name, r.token, peer)
	}
	if err == nil && (r.name == "" || r.addr == "") {
		err = fmt.Errorf("%w: a join names the member and its address", ErrInvalidConfig)
	}
	if err != nil {
		s.log.Warn("join refused", "member", r.name, "remote", peer.RemoteAddr, "err", err)
		return encodeChangeReply(changeResult{}, err), nil
	}
	if r.preflight {
		return encodeJoinReply(s.clusterID.Load(), 0), nil
	}
	c := memberChange{kind: changeJoin, id: r.id, name: r.name, addr: r.addr, learner: r.learner}
	reply, err := s.callLeader(ctx, c.encode(), func(ctx context.Context) ([]byte, error) {
		res, err := s.changeMembers(ctx, c)
		return encodeChangeReply(res, err), nil
	})
	if err != nil {
		return encodeChangeReply(changeResult{}, err), nil
	}
	res, err := decodeChangeReply(reply)
	if err != nil {
		return encodeChangeReply(changeResult{}, err), nil
	}
	return encodeJoinReply(s.clusterID.Load(), res.id), nil
}

func encodeJoinReply(clusterID, id uint64) []byte {
	e := wire.Encoder{Buf: make([]byte, 0, 24)}
	e.Byte(0)
	e.Uvarint(clusterID)
	e.Uvarint(id)
	return e.Buf
}

// decodeJoinReply decodes a join reply, returning the refusal it carries.
func decodeJoinReply(b []byte) (clusterID, id uint64, err error) {
	d := wire.NewDecoder(b, ErrCorruptCommand)
	if err := decodeError(d, d.Byte()); err != nil {
		return 0, 0, err
	}
	if d.Err() != nil {
		return 0, 0, d.Err()
	}
	clusterID, id = d.Uvarint(), d.Uvarint()
	return clusterID, id, d.Finish()
}

// authoriseJoin decides whether the process behind peer may join as name:
// with TLS, its certificate (verified by the handshake against the
// cluster's CA) must name it, as the Subject's common name or a DNS name;
// without TLS it must present the cluster's ClusterToken, compared in
// constant time. A cluster without TLS and without a token takes no joins.
func (s *Store) authoriseJoin(name, token string, peer transport.JoinPeer) error {
	if s.cfg.TLS != nil {
		if len(peer.Certificates) == 0 {
			return fmt.Errorf("%w: no verified client certificate", ErrJoinRefused)
		}
		leaf := peer.Certificates[0]
		if leaf.Subject.CommonName != name && !slices.Contains(leaf.DNSNames, name) {
			return fmt.Errorf("%w: the certificate does not name member %q", ErrJoinRefused, name)
		}
		return nil
	}
	if s.cfg.ClusterToken == "" {
		return fmt.Errorf("%w: the cluster has no ClusterToken (and no TLS), so it takes no joins", ErrJoinRefused)
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.ClusterToken)) != 1 {
		return fmt.Errorf("%w: wrong ClusterToken", ErrJoinRefused)
	}
	return nil
}

// admit adds the member of a join request (changeJoin): a member already
// admitted (a retried join) is answered again; a member reserved by
// MemberAdd for its address is taken; otherwise a new one is recorded.
func (s *Store) admit(ctx context.Context, views []memberView, cs clusterState, c memberChange) (changeResult, error) {
	for _, v := range views {
		if v.Name != c.name {
			continue
		}
		if v.removed || (v.ID != c.id && v.PeerURLs[0] != c.addr) {
			return changeResult{}, fmt.Errorf("%w: %q", ErrMemberExists, c.name)
		}
		idx, err := s.setAddress(ctx, v.server, c.addr)
		return changeResult{id: v.ID, index: idx}, err
	}
	var r memberRecord
	for _, v := range views {
		if len(v.PeerURLs) > 0 && v.PeerURLs[0] == c.addr {
			if v.server.ID != "" {
				return changeResult{}, fmt.Errorf("%w: %s", ErrPeerURLExists, c.addr)
			}
			r = *v.record // reserved by MemberAdd
		}
	}
	if old := cs.byName(c.name); old != nil {
		// Recorded by an earlier attempt whose raft change did not happen.
		switch {
		case old.removed:
			return changeResult{}, fmt.Errorf("%w: %q is being removed", ErrMemberExists, c.name)
		case old.id == c.id || old.addr == c.addr:
			r = *old
		default:
			cs = cs.clone()
			cs.drop(old.id) // another process's abandoned attempt
		}
	}
	if r.id == 0 {
		r = memberRecord{id: c.id, learner: c.learner}
		if r.id == 0 || findMember(views, r.id) != nil || cs.byID(r.id) != nil {
			r.id = newMemberID(views, &cs)
		}
	}
	r.name, r.addr, r.learner = c.name, c.addr, r.learner || c.learner
	cs = cs.clone()
	cs.put(r)
	var err error
	if cs.index, err = s.setRecords(ctx, cs); err != nil {
		return changeResult{}, err
	}
	idx, err := s.raftChange(ctx, func(timeout time.Duration) raft.IndexFuture {
		return s.raft.AddNonvoter(raft.ServerID(c.name), raft.ServerAddress(c.addr), 0, timeout)
	})
	if err != nil {
		return changeResult{}, err
	}
	s.log.Info("member joined as a learner", "member", c.name, "addr", c.addr, "learner", r.learner)
	return changeResult{id: r.id, index: idx}, nil
}

// rejoin answers a member that restarted, or lost touch with its leader
// for long (changeRejoin): ErrRemoved if it is no longer a member, and
// otherwise records its address if that changed.
func (s *Store) rejoin(ctx context.Context, views []memberView, c memberChange) (changeResult, error) {
	for _, v := range views {
		if v.Name == c.name && v.server.ID != "" {
			if v.ID != c.id || v.removed {
				break
			}
			idx, err := s.setAddress(ctx, v.server, c.addr)
			if err == nil && string(v.server.Address) != c.addr {
				s.log.Info("member address changed", "member", c.name, "from", v.server.Address, "to", c.addr)
			}
			return changeResult{id: v.ID, index: idx}, err
		}
	}
	return changeResult{}, fmt.Errorf("%w: %q (%016x)", ErrRemoved, c.name, c.id)
}

// join runs the joining side until this member is admitted, or fails
// with the cluster's refusal.
func (s *Store) join(ctx context.Context) error {
	r := joinRequest{
		token: s.cfg.ClusterToken, name: s.id.MemberID, addr: s.trans.Addr(),
		id: s.memberID.Load(), learner: s.cfg.Learner,
	}
	req := r.encode()
	r.preflight = true
	preflight := r.encode()
	backoff := 50 * time.Millisecond
	var last error
	for i := 0; ; i++ {
		addr := s.cfg.Join[i%len(s.cfg.Join)]
		var reply []byte
		var clusterID, id uint64
		var err error
		if s.trans.ClusterID() == 0 {
			if reply, err = s.trans.Join(ctx, addr, preflight); err == nil {
				if clusterID, _, err = decodeJoinReply(reply); err == nil {
					s.trans.SetClusterID(clusterID)
				}
			}
		}
		if err == nil {
			if reply, err = s.trans.Join(ctx, addr, req); err == nil {
				if clusterID, id, err = decodeJoinReply(reply); err == nil {
					return s.joined(clusterID, id)
				}
			}
		}
		if tlsRefused(err) {
			return fmt.Errorf("%w: TLS handshake with %s: %w", ErrJoinRefused, addr, err)
		}
		switch {
		case errors.Is(err, ErrJoinRefused), errors.Is(err, ErrMemberExists), errors.Is(err, ErrPeerURLExists),
			errors.Is(err, ErrRemoved), errors.Is(err, ErrInvalidConfig):
			return err
		}
		last = err
		s.log.Debug("join attempt failed", "via", addr, "err", err)
		if (i+1)%len(s.cfg.Join) != 0 {
			continue // try the next address at once
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: joining through %v: %w (last: %w)", ErrNoLeader, s.cfg.Join, ctx.Err(), last)
		case <-s.stop:
			return s.errStopped()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// tlsRefused reports whether err is a TLS handshake that failed on
// certificates: this side did not trust the member's, or the member
// rejected this side's (a TLS alert).
func tlsRefused(err error) bool {
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return true
	}
	var oerr *net.OpError
	return errors.As(err, &oerr) && oerr.Op == "remote error"
}

// joined records the cluster this member joined, in Dir and in the
// transport.
func (s *Store) joined(clusterID, id uint64) error {
	s.id.ClusterID, s.id.Number = clusterID, id // Open's goroutine only reads s.id
	if err := saveIdentity(s.cfg.Dir, s.id); err != nil {
		return fmt.Errorf("keel: record the joined cluster: %w", err)
	}
	s.memberID.Store(id)
	s.clusterID.Store(clusterID)
	s.trans.SetClusterID(clusterID)
	s.log.Info("joined the cluster", "cluster_id", fmt.Sprintf("%016x", clusterID), "member_id", fmt.Sprintf("%016x", id))
	return nil
}

// waitServing blocks until this member is in the configuration it
// applied and serves a linearizable read.
func (s *Store) waitServing(ctx context.Context) error {
	for {
		if s.inConfiguration() {
			rctx, cancel := context.WithTimeout(ctx, 2*s.cfg.ElectionTimeout)
			err := s.readBarrier(rctx, false)
			cancel()
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: catching up: %w", ErrTimeout, ctx.Err())
		case <-s.stop:
			return s.errStopped()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// inConfiguration reports whether raft's configuration lists this member.
func (s *Store) inConfiguration() bool {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	return slices.ContainsFunc(f.Configuration().Servers, func(srv raft.Server) bool {
		return srv.ID == raft.ServerID(s.id.MemberID)
	})
}

// checkSelf asks the cluster, through any member this one knows of,
// whether it is still a member (changeRejoin): a member that restarted
// may have been removed, or have a new address, while it was down; one
// that hears from no leader for long may have been removed meanwhile.
func (s *Store) checkSelf() {
	var addrs []string
	if f := s.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			if srv.ID != raft.ServerID(s.id.MemberID) {
				addrs = append(addrs, string(srv.Address))
			}
		}
	}
	if len(addrs) == 0 {
		s.selfCheck.Store(false) // the only member: nobody could have removed it
		return
	}
	addrs = append(addrs, s.cfg.Join...)
	req := (&memberChange{kind: changeRejoin, id: s.memberID.Load(), name: s.id.MemberID, addr: s.trans.Addr()}).encode()
	for _, addr := range addrs {
		ctx, cancel := context.WithTimeout(s.stopCtx, 2*s.cfg.ElectionTimeout)
		reply, err := s.trans.Call(ctx, addr, req)
		cancel()
		if err != nil {
			continue
		}
		_, err = decodeChangeReply(reply)
		switch {
		case err == nil:
			s.selfCheck.Store(false)
			return
		case errors.Is(err, ErrRemoved):
			s.markRemoved()
			return
		}
	}
}

// markRemoved stops this member for good: it was removed from the cluster.
func (s *Store) markRemoved() {
	if s.removed.CompareAndSwap(false, true) {
		s.log.Warn("this member was removed from the cluster; stopping")
		go s.close(false) // not from the goroutine that noticed: Close waits for it
	}
}

// onMembersChanged runs after the member records change: a member that
// finds itself marked removed stops.
func (s *Store) onMembersChanged() {
	cs, err := decodeClusterState(s.kv.ClusterState())
	if err != nil {
		return
	}
	if r := cs.byName(s.id.MemberID); r != nil && r.removed && r.id == s.memberID.Load() {
		s.markRemoved()
	}
}
