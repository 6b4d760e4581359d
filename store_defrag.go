package keel

import (
	"context"
	"errors"
	"fmt"

	"github.com/keeldb/keel/mvcc"
)

// Defragment rewrites the database file (kv.db) of the member endpoint
// names compactly and gives the space that compaction freed inside it
// back to the file system: compaction alone never shrinks the file. As in
// etcd it is member-local (not replicated): call it for each member whose
// file should shrink, after Compact, as clientv3's Maintenance.Defragment
// is called once per endpoint. endpoint "" is this member; otherwise it is
// another member's Name, address or ID (see Endpoints in the package
// documentation), which defragments its own file when asked over the
// member port, and the response is that member's. An endpoint that names
// no member fails with ErrMemberNotFound.
//
// Unlike etcd's, it does not stop the member. The database is copied into
// a new file next to it (kv.db.defrag; it needs disk space for the data
// that is live) while the member serves reads and applies writes; then a
// short switch, with the database's commits held, copies what was
// committed meanwhile and renames the copy over kv.db (see
// DefragmentResponse.CommitPause). Reads are never blocked, and writes are
// not either unless the switch outlasts the member's commit back-pressure.
// The data, revisions and HashKV are unchanged.
//
// A crash at any point leaves kv.db complete: the old file until the
// copy, complete and fsynced, is renamed over it, the new one afterwards;
// Open removes a copy left behind. When ctx ends before the switch,
// Defragment stops, removes the copy and returns an error wrapping
// ctx.Err() (for another member, ending ctx stops its defragmentation
// too, as soon as the member hears of it); kv.db is untouched. Calls on
// one member run one at a time: a call waits for a running one
// (Config.AutoDefrag's too) or until ctx ends, then runs. Physical
// compaction pauses while it runs. On a stopped member it returns
// ErrStopped (ErrRemoved if the member was removed).
func (s *Store) Defragment(ctx context.Context, endpoint string) (*DefragmentResponse, error) {
	return onMember(ctx, s, endpoint, memberRequest{kind: msgDefragment}, s.localDefragment, decodeDefragment)
}

// localDefragment is this member's Defragment.
func (s *Store) localDefragment(ctx context.Context) (*DefragmentResponse, error) {
	if s.stopped() {
		return nil, s.errStopped()
	}
	st, err := s.kv.Defrag(ctx)
	if err != nil {
		if errors.Is(err, mvcc.ErrClosed) {
			return nil, s.errStopped()
		}
		s.log.Warn("defragment failed", "err", err)
		return nil, fmt.Errorf("keel: defragment: %w", err)
	}
	s.log.Info("defragmented", "size_before", st.SizeBefore, "size_after", st.SizeAfter,
		"duration", st.Duration, "commit_pause", st.Pause, "records", st.Records)
	return &DefragmentResponse{
		Header: s.headerPtr(), SizeBefore: st.SizeBefore, SizeAfter: st.SizeAfter,
		Duration: st.Duration, CommitPause: st.Pause,
	}, nil
}
