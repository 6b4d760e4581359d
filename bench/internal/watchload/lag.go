package watchload

import (
	"context"
	"fmt"
	"time"

	"github.com/keeldb/keel"
)

// Placement says on which members a cell's watchers live.
type Placement string

// Placements.
const (
	// PlaceSpread puts watcher j on member j mod n.
	PlaceSpread Placement = "spread"
	// PlaceFollower puts every watcher on one follower.
	PlaceFollower Placement = "follower"
	// PlaceLeader puts every watcher on the leader.
	PlaceLeader Placement = "leader"
)

// ParsePlacement returns the Placement named s.
func ParsePlacement(s string) (Placement, error) {
	switch p := Placement(s); p {
	case PlaceSpread, PlaceFollower, PlaceLeader:
		return p, nil
	}
	return "", fmt.Errorf("%w: unknown placement %q (spread, follower, leader)", ErrInvalidParams, s)
}

// LagParams configures one delivery-lag cell.
type LagParams struct {
	// Writers is the number of concurrent writers; writer w writes through
	// member w mod n.
	Writers int
	// Puts is the number of puts in the cell, shared by the writers.
	Puts int
	// Watchers is the number of reading watchers on the cell's prefix.
	Watchers int
	// Placement says where the watchers live.
	Placement Placement
	// ValueBytes is the size of every value (at least StampBytes).
	ValueBytes int
	// Prefix is the cell's key prefix; use a fresh one per cell.
	Prefix string
	// Timeout bounds the wait for delivery after the last put returned.
	Timeout time.Duration
}

// LagResult is one delivery-lag cell. Durations are in nanoseconds in JSON.
type LagResult struct {
	Watchers  int       `json:"watchers"`
	Placement Placement `json:"placement"`
	Puts      int       `json:"puts"`
	Writers   int       `json:"writers"`
	// Expected is Puts*Watchers deliveries; Delivered is how many arrived
	// before the timeout; Complete reports Delivered == Expected in time.
	Expected  int64 `json:"expected"`
	Delivered int64 `json:"delivered"`
	Complete  bool  `json:"complete"`
	// WritesPerSec is Puts over the writers' wall time.
	WritesPerSec float64 `json:"writes_per_sec"`
	// DeliveriesPerSec is Delivered over the time from the first put to
	// the last watcher's last event.
	DeliveriesPerSec float64       `json:"deliveries_per_sec"`
	P50              time.Duration `json:"p50_ns"`
	P99              time.Duration `json:"p99_ns"`
	Max              time.Duration `json:"max_ns"`
	// Retries counts puts retried after a leader change (0 normally).
	Retries int64 `json:"retries"`
}

// RunLag runs one delivery-lag cell on c.
func RunLag(ctx context.Context, c *Cluster, clock Clock, p LagParams) (LagResult, error) {
	if p.Watchers <= 0 {
		return LagResult{}, fmt.Errorf("%w: %d watchers", ErrInvalidParams, p.Watchers)
	}
	on, err := place(c, p.Placement, p.Watchers)
	if err != nil {
		return LagResult{}, err
	}
	fr, err := flow{
		clock: clock, members: c.Members, prefix: p.Prefix, writers: p.Writers, puts: p.Puts,
		valueBytes: p.ValueBytes, readOn: on, timeout: p.Timeout,
	}.run(ctx)
	if err != nil {
		return LagResult{}, err
	}
	return LagResult{
		Watchers: p.Watchers, Placement: p.Placement, Puts: p.Puts, Writers: p.Writers,
		Expected: fr.expected, Delivered: fr.delivered, Complete: fr.complete,
		WritesPerSec:     perSec(int64(p.Puts), fr.writeDur),
		DeliveriesPerSec: perSec(fr.delivered, fr.deliverDur),
		P50:              fr.lag.Quantile(0.50), P99: fr.lag.Quantile(0.99), Max: fr.lag.Max(),
		Retries: fr.retries,
	}, nil
}

// place returns the member of each of n watchers.
func place(c *Cluster, p Placement, n int) ([]*keel.Store, error) {
	if len(c.Members) == 0 {
		return nil, fmt.Errorf("%w: cluster has no members", ErrInvalidParams)
	}
	on := make([]*keel.Store, n)
	for j := range on {
		switch p {
		case PlaceSpread:
			on[j] = c.Members[j%len(c.Members)]
		case PlaceFollower:
			on[j] = c.Members[c.Follower()]
		case PlaceLeader:
			on[j] = c.Members[max(c.Leader(), 0)]
		default:
			return nil, fmt.Errorf("%w: unknown placement %q", ErrInvalidParams, p)
		}
	}
	return on, nil
}

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
