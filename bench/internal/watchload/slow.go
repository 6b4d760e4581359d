package watchload

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// SlowParams configures the slow-consumer isolation measurement.
type SlowParams struct {
	// Writers, Puts and ValueBytes are as in LagParams, per run.
	Writers    int
	Puts       int
	ValueBytes int
	// Rounds is the number of with/without pairs; the order alternates.
	Rounds int
	// Placement says where the fast and the stalled watcher live (both on
	// the same member).
	Placement Placement
	// Prefix is the base of every run's fresh key prefix.
	Prefix string
	// Timeout bounds the wait for delivery after the last put returned.
	Timeout time.Duration
}

// SlowRound is one pair of runs: without and with a never-read watcher.
type SlowRound struct {
	WritesPerSecWithout float64 `json:"writes_per_sec_without"`
	WritesPerSecWith    float64 `json:"writes_per_sec_with"`
	// Deliver* is the fast watcher's events per second, from the first put
	// issued to its last event.
	DeliverPerSecWithout float64       `json:"deliver_per_sec_without"`
	DeliverPerSecWith    float64       `json:"deliver_per_sec_with"`
	FastP99Without       time.Duration `json:"fast_p99_ns_without"`
	FastP99With          time.Duration `json:"fast_p99_ns_with"`
	// StalledBuffered is how many responses the stalled watcher's channel
	// held at the end of the "with" run.
	StalledBuffered int `json:"stalled_buffered"`
	// WriteRatio and DeliverRatio are with/without (1 = no effect).
	WriteRatio   float64 `json:"write_ratio"`
	DeliverRatio float64 `json:"deliver_ratio"`
	// Retries counts puts of both runs retried after a leader change.
	Retries int64 `json:"retries"`
}

// SlowResult is the slow-consumer isolation measurement: every round and
// the medians of the per-round ratios.
type SlowResult struct {
	Placement          Placement   `json:"placement"`
	Puts               int         `json:"puts"`
	Writers            int         `json:"writers"`
	Rounds             []SlowRound `json:"rounds"`
	MedianWriteRatio   float64     `json:"median_write_ratio"`
	MedianDeliverRatio float64     `json:"median_deliver_ratio"`
}

// RunSlow measures slow-consumer isolation on c.
func RunSlow(ctx context.Context, c *Cluster, clock Clock, p SlowParams) (SlowResult, error) {
	if p.Rounds <= 0 {
		return SlowResult{}, fmt.Errorf("%w: %d rounds", ErrInvalidParams, p.Rounds)
	}
	res := SlowResult{Placement: p.Placement, Puts: p.Puts, Writers: p.Writers}
	var wr, dr []float64
	for round := range p.Rounds {
		var r SlowRound
		order := []bool{false, true}
		if round%2 == 1 {
			order = []bool{true, false}
		}
		for _, withSlow := range order {
			on, err := place(c, p.Placement, 1)
			if err != nil {
				return res, err
			}
			f := flow{
				clock: clock, members: c.Members, writers: p.Writers, puts: p.Puts, valueBytes: p.ValueBytes,
				prefix: fmt.Sprintf("%s%d/%v/", p.Prefix, round, withSlow), readOn: on, timeout: p.Timeout,
			}
			if withSlow {
				f.stallOn = on
			}
			fr, err := f.run(ctx)
			if err != nil {
				return res, err
			}
			if !fr.complete {
				return res, fmt.Errorf("%w: fast watcher got %d of %d events in time", ErrWatchCanceled, fr.delivered, fr.expected)
			}
			r.Retries += fr.retries
			w, d := perSec(int64(p.Puts), fr.writeDur), perSec(fr.delivered, fr.deliverDur)
			if withSlow {
				r.WritesPerSecWith, r.DeliverPerSecWith, r.FastP99With = w, d, fr.lag.Quantile(0.99)
				r.StalledBuffered = fr.stalled
			} else {
				r.WritesPerSecWithout, r.DeliverPerSecWithout, r.FastP99Without = w, d, fr.lag.Quantile(0.99)
			}
		}
		r.WriteRatio = ratio(r.WritesPerSecWith, r.WritesPerSecWithout)
		r.DeliverRatio = ratio(r.DeliverPerSecWith, r.DeliverPerSecWithout)
		wr, dr = append(wr, r.WriteRatio), append(dr, r.DeliverRatio)
		res.Rounds = append(res.Rounds, r)
	}
	res.MedianWriteRatio, res.MedianDeliverRatio = Median(wr), Median(dr)
	return res, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Median returns the median of xs (the mean of the middle two for an even
// count), 0 for none. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
