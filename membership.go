package keel

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
	"github.com/keeldb/keel/mvcc"
)

// Membership is raft's configuration (who votes, who learns, at which
// address) plus Keel's member records, replicated state kept in the
// key-value database beside the data (mvcc's cluster state), so that it
// is in every snapshot and obeys the consistent-index rule:
//
//	clusterState = version:byte(1) index:uvarint initial:uvarint n:uvarint record*n (sorted by id)
//	record       = id:uvarint name:bytes addr:bytes flags:byte(1 learner|2 removed)
//
// A record exists for every member that did not bootstrap the cluster (its
// id is chosen when it is added, so an ID is never reused), for members
// added with MemberAdd that have not started (name ""), and for members
// being removed. A first member with no record has id memberNumber(name).
// The leader changes records with cmdMember commands, one change at a time
// (see reconfig.go).
type memberRecord struct {
	id   uint64
	name string // raft ServerID; "" until the member added for addr starts
	addr string // address reserved by MemberAdd (the raft address wins once started)
	// learner keeps the member a learner until MemberPromote (added with
	// MemberAddAsLearner, or joined with Config.Learner); otherwise the
	// leader promotes it once it has caught up.
	learner bool
	// removed marks a member being removed: it stops serving when it
	// applies this, before raft drops it from the configuration.
	removed bool
}

// clusterState is the decoded member records, sorted by id.
type clusterState struct {
	// index is the raft index of the cmdMember that set this state (0:
	// never set). A cmdMember names the index of the state it was derived
	// from and applies only if that is still the state.
	index uint64
	// initial is the number of voters the cluster was bootstrapped with
	// (0: not recorded yet); dead-member cleanup never goes below its
	// quorum.
	initial uint64
	records []memberRecord
}

const clusterStateVersion = 1

func (cs *clusterState) encode() []byte {
	e := wire.Encoder{Buf: make([]byte, 0, 16+32*len(cs.records))}
	e.Byte(clusterStateVersion)
	e.Uvarint(cs.index)
	e.Uvarint(cs.initial)
	e.Uvarint(uint64(len(cs.records)))
	for _, r := range cs.records {
		e.Uvarint(r.id)
		e.Bytes([]byte(r.name))
		e.Bytes([]byte(r.addr))
		var flags byte
		if r.learner {
			flags |= 1
		}
		if r.removed {
			flags |= 2
		}
		e.Byte(flags)
	}
	return e.Buf
}

func decodeClusterState(b []byte) (clusterState, error) {
	var cs clusterState
	if len(b) == 0 {
		return cs, nil
	}
	d := wire.NewDecoder(b, ErrCorruptCommand)
	if v := d.Byte(); v != clusterStateVersion && d.Err() == nil {
		d.Fail(fmt.Sprintf("cluster state version %d", v))
	}
	cs.index, cs.initial = d.Uvarint(), d.Uvarint()
	n := d.Count(4)
	for range n {
		r := memberRecord{id: d.Uvarint(), name: string(d.Bytes()), addr: string(d.Bytes())}
		flags := d.Byte()
		if flags&^3 != 0 {
			d.Fail("unknown member flags")
		}
		r.learner, r.removed = flags&1 != 0, flags&2 != 0
		if d.Err() != nil {
			break
		}
		if r.id == 0 || (len(cs.records) > 0 && cs.records[len(cs.records)-1].id >= r.id) {
			d.Fail("member records out of order")
			break
		}
		cs.records = append(cs.records, r)
	}
	return cs, d.Finish()
}

// clone returns a deep copy (records are values).
func (cs clusterState) clone() clusterState {
	return clusterState{index: cs.index, initial: cs.initial, records: slices.Clone(cs.records)}
}

// byID returns the record with id, or nil.
func (cs *clusterState) byID(id uint64) *memberRecord {
	i, ok := slices.BinarySearchFunc(cs.records, id, func(r memberRecord, id uint64) int { return cmp.Compare(r.id, id) })
	if !ok {
		return nil
	}
	return &cs.records[i]
}

// byName returns the record of the started member name, or nil.
func (cs *clusterState) byName(name string) *memberRecord {
	for i := range cs.records {
		if cs.records[i].name == name && name != "" {
			return &cs.records[i]
		}
	}
	return nil
}

// put inserts or replaces r, keeping the records sorted.
func (cs *clusterState) put(r memberRecord) {
	i, ok := slices.BinarySearchFunc(cs.records, r.id, func(r memberRecord, id uint64) int { return cmp.Compare(r.id, id) })
	if ok {
		cs.records[i] = r
		return
	}
	cs.records = slices.Insert(cs.records, i, r)
}

// drop deletes the record with id, if any.
func (cs *clusterState) drop(id uint64) {
	cs.records = slices.DeleteFunc(cs.records, func(r memberRecord) bool { return r.id == id })
}

// memberView is one member as the API reports it: raft's server joined
// with its record.
type memberView struct {
	Member
	server  raft.Server // zero ID for a member that has not started
	record  *memberRecord
	removed bool
}

// members joins raft's configuration with the records: every server in
// conf (records give their IDs), then the members added with MemberAdd
// that have not started, sorted by ID.
func members(conf raft.Configuration, cs *clusterState) []memberView {
	out := make([]memberView, 0, len(conf.Servers)+len(cs.records))
	for _, srv := range conf.Servers {
		v := memberView{server: srv, Member: Member{
			ID: memberNumber(string(srv.ID)), Name: string(srv.ID),
			PeerURLs: []string{string(srv.Address)}, IsLearner: srv.Suffrage != raft.Voter,
		}}
		if r := cs.byName(string(srv.ID)); r != nil {
			v.ID, v.record, v.removed = r.id, r, r.removed
		}
		out = append(out, v)
	}
	for i := range cs.records {
		r := &cs.records[i]
		if r.name == "" {
			out = append(out, memberView{record: r, Member: Member{
				ID: r.id, PeerURLs: []string{r.addr}, IsLearner: r.learner,
			}})
		}
	}
	slices.SortFunc(out, func(a, b memberView) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// publicMembers returns the API's copies of views.
func publicMembers(views []memberView) []*Member {
	out := make([]*Member, 0, len(views))
	for _, v := range views {
		m := v.Member
		m.PeerURLs = slices.Clone(m.PeerURLs)
		out = append(out, &m)
	}
	return out
}

// findMember returns the view with id, or nil.
func findMember(views []memberView, id uint64) *memberView {
	for i := range views {
		if views[i].ID == id {
			return &views[i]
		}
	}
	return nil
}

// parsePeerAddrs turns the peer URLs of MemberAdd and MemberUpdate into
// one member address: exactly one, "host:port", with an optional
// "http://" or "https://" prefix (etcd's peer URLs) dropped.
func parsePeerAddrs(urls []string) (string, error) {
	if len(urls) != 1 {
		return "", fmt.Errorf("%w: want exactly one address, got %d", ErrInvalidPeerURL, len(urls))
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(urls[0], "http://"), "https://"), "/")
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return "", fmt.Errorf("%w: %q is not host:port", ErrInvalidPeerURL, urls[0])
	}
	return addr, nil
}

// applyMember replaces the member records with cs at raft index idx, if
// they were last set at index base (otherwise another change got there
// first and this one is refused: ErrChangeInProgress).
func applyMember(kv *mvcc.Store, idx, base uint64, cs clusterState) *applyResult {
	tx := kv.Write(idx)
	defer tx.End()
	cur, err := decodeClusterState(kv.ClusterState())
	if err != nil {
		return &applyResult{err: err}
	}
	if cur.index != base {
		return &applyResult{err: fmt.Errorf("%w: members changed at index %d", ErrChangeInProgress, cur.index)}
	}
	cs.index = idx
	tx.SetClusterState(cs.encode())
	return &applyResult{}
}
