package main

import (
	"context"
	"time"

	"github.com/keeldb/keel"
)

func (c *keelCluster) deleteRange(ctx context.Context, key, end string) (int64, error) {
	resp, err := c.stores[c.target()].Delete(ctx, key, keel.WithRange(end))
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// compact compacts through member i, which must lead: WithCompactPhysical
// waits for the leader's database.
func (c *keelCluster) compact(ctx context.Context, i int, rev int64) error {
	_, err := c.stores[i].Compact(ctx, rev, keel.WithCompactPhysical())
	return err
}

func (c *keelCluster) defragment(ctx context.Context, i int) (time.Duration, error) {
	resp, err := c.stores[i].Defragment(ctx, "")
	if err != nil {
		return 0, err
	}
	return resp.CommitPause, nil
}
