package main

import (
	"context"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func (c *etcdCluster) deleteRange(ctx context.Context, key, end string) (int64, error) {
	resp, err := c.etcds[c.target()].Server.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: []byte(key), RangeEnd: []byte(end)})
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// compact compacts through member i and, with Physical, waits until
// member i has deleted the compacted revisions.
func (c *etcdCluster) compact(ctx context.Context, i int, rev int64) error {
	_, err := c.etcds[i].Server.Compact(ctx, &pb.CompactionRequest{Revision: rev, Physical: true})
	return err
}

// defragment runs the defragmentation Maintenance.Defragment runs; etcd
// reports no pause (it holds reads and writes for the whole of it).
func (c *etcdCluster) defragment(_ context.Context, i int) (time.Duration, error) {
	return 0, c.etcds[i].Server.Defragment()
}
