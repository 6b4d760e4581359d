package keel

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keeldb/keel/internal/wire"
	"github.com/keeldb/keel/transport"
)

// Endpoints. clientv3's Status, HashKV and Defragment take the endpoint of
// the etcd server to ask; Keel's take the member to ask, named as
// resolveEndpoint describes, and ask it over the member port (msgStatus,
// msgHashKV, msgDefragment in rpc.go). The member answers with the code
// this member runs for "": the answer is that member's own.
//
//	request = msg:byte member:uvarint [rev:varint, msgHashKV only]
//	reply   = code:byte (errorCodes, result.go), then for 0 the response
//	          (maintwire.go)
//
// member is the ID the asking member expects to answer: a member that
// finds another ID is its own (a process that took over the address)
// answers ErrMemberNotFound.

// memberTarget is the member an endpoint names.
type memberTarget struct {
	local bool   // this member: run the call here
	id    uint64 // Member.ID
	name  string // Member.Name ("" for a member that has not started)
	addr  string // where it listens for member traffic
}

// String names the target in errors.
func (t memberTarget) String() string {
	if t.name != "" {
		return fmt.Sprintf("member %s (%016x at %s)", t.name, t.id, t.addr)
	}
	return fmt.Sprintf("member %016x at %s", t.id, t.addr)
}

// resolveEndpoint returns the member endpoint names, in this member's
// view of the membership (which may lag a change in flight). The forms,
// tried in this order, the first match winning:
//
//   - "": this member;
//   - a member's Name (its Config.ID);
//   - a member's address, "host:port", as Member.PeerURLs lists it, with
//     or without an "http://" or "https://" prefix and a trailing "/";
//   - a member's ID (Member.ID) in hexadecimal, as etcd prints member IDs
//     ("8e9e05c52164694d"; leading zeros optional);
//   - a member's ID in decimal.
//
// A member whose removal has been decided is not named. Anything else
// fails with ErrMemberNotFound.
func (s *Store) resolveEndpoint(endpoint string) (memberTarget, error) {
	if endpoint == "" || endpoint == s.id.MemberID {
		return memberTarget{local: true}, nil
	}
	views, err := s.memberViews()
	if err != nil {
		return memberTarget{}, err
	}
	self := s.memberID.Load()
	target := func(v *memberView) memberTarget {
		t := memberTarget{id: v.ID, name: v.Name, local: v.ID == self}
		if len(v.PeerURLs) > 0 {
			t.addr = v.PeerURLs[0]
		}
		return t
	}
	matchers := []func(*memberView) bool{
		func(v *memberView) bool { return v.Name == endpoint },
	}
	if addr := trimURL(endpoint); addr != "" {
		matchers = append(matchers, func(v *memberView) bool {
			return len(v.PeerURLs) > 0 && v.PeerURLs[0] == addr
		})
	}
	if id, err := strconv.ParseUint(endpoint, 16, 64); err == nil {
		matchers = append(matchers, func(v *memberView) bool { return v.ID == id })
	}
	if id, err := strconv.ParseUint(endpoint, 10, 64); err == nil {
		matchers = append(matchers, func(v *memberView) bool { return v.ID == id })
	}
	for _, match := range matchers {
		for i := range views {
			if v := &views[i]; !v.removed && match(v) {
				return target(v), nil
			}
		}
	}
	if trimURL(endpoint) == s.Addr() {
		return memberTarget{local: true}, nil // not listed yet (joining)
	}
	return memberTarget{}, fmt.Errorf("%w: no member is named, listens at or has the ID %q", ErrMemberNotFound, endpoint)
}

// trimURL returns endpoint without an "http://" or "https://" prefix and
// a trailing "/".
func trimURL(endpoint string) string {
	addr := strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://")
	return strings.TrimSuffix(addr, "/")
}

// onMember runs a maintenance call on the member endpoint names: local on
// this member, else req on that member over the member port, whose reply
// decode reads. Errors the member answers come back as the same
// sentinels (errors.Is-able), wrapped with the member's name; failing to
// reach it returns the transport's error (transport.ErrUnreachable, or
// ctx's error), wrapped likewise. A call whose connection is lost is
// made once more: each of these calls is safe to repeat (a repeated
// Defragment finds less to do).
func onMember[T any](ctx context.Context, s *Store, endpoint string, req memberRequest,
	local func(context.Context) (*T, error), decode func(*wire.Decoder) *T,
) (*T, error) {
	t, err := s.resolveEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if t.local {
		return local(ctx)
	}
	if s.stopped() {
		return nil, s.errStopped()
	}
	req.member = t.id
	reply, err := s.trans.Call(ctx, t.addr, req.encode())
	if errors.Is(err, transport.ErrConnLost) {
		// A connection cached from before the member went down (or
		// restarted): the calls are safe to repeat, so ask once more,
		// on a fresh one.
		reply, err = s.trans.Call(ctx, t.addr, req.encode())
	}
	if err != nil {
		return nil, fmt.Errorf("keel: %s: %w", t, err)
	}
	d := wire.NewDecoder(reply, ErrCorruptCommand)
	if code := d.Byte(); code != 0 {
		err := decodeError(d, code)
		if err == nil {
			err = d.Err()
		}
		return nil, fmt.Errorf("keel: %s: %w", t, err)
	}
	resp := decode(d)
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("keel: %s: undecodable reply: %w", t, err)
	}
	return resp, nil
}

// memberRequest is a request for msgStatus, msgHashKV or msgDefragment.
type memberRequest struct {
	kind   byte
	member uint64 // the ID of the member asked
	rev    int64  // msgHashKV
}

func (r memberRequest) encode() []byte {
	e := wire.Encoder{Buf: make([]byte, 0, 24)}
	e.Byte(r.kind)
	e.Uvarint(r.member)
	if r.kind == msgHashKV {
		e.Varint(r.rev)
	}
	return e.Buf
}

// decodeMemberRequest decodes the payload (after the type byte) of a
// request of kind; errors wrap ErrCorruptCommand.
func decodeMemberRequest(kind byte, payload []byte) (memberRequest, error) {
	d := wire.NewDecoder(payload, ErrCorruptCommand)
	r := memberRequest{kind: kind, member: d.Uvarint()}
	if kind == msgHashKV {
		r.rev = d.Varint()
	}
	return r, d.Finish()
}

// serveMember answers msgStatus, msgHashKV and msgDefragment with this
// member's local call, as it runs for the endpoint "".
func (s *Store) serveMember(ctx context.Context, kind byte, payload []byte) ([]byte, error) {
	r, err := decodeMemberRequest(kind, payload)
	if err != nil {
		return nil, err
	}
	e := wire.Encoder{Buf: make([]byte, 0, 128)}
	if self := s.memberID.Load(); r.member != self {
		encodeError(&e, fmt.Errorf("%w: %016x asked, %016x answers", ErrMemberNotFound, r.member, self))
		return e.Buf, nil
	}
	var encode func()
	switch kind {
	case msgStatus:
		var st *StatusResponse
		st, err = s.localStatus()
		encode = func() { encodeStatus(&e, st) }
	case msgHashKV:
		var h *HashKVResponse
		h, err = s.localHashKV(r.rev)
		encode = func() { encodeHashKV(&e, h) }
	case msgDefragment:
		var df *DefragmentResponse
		df, err = s.localDefragment(ctx)
		encode = func() { encodeDefragment(&e, df) }
	default:
		return nil, fmt.Errorf("%w: message %d is no member request", ErrCorruptCommand, kind)
	}
	if err != nil {
		encodeError(&e, err)
		return e.Buf, nil
	}
	e.Byte(0)
	encode()
	return e.Buf, nil
}
