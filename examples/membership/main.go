// Command membership grows and shrinks a running Keel cluster while it
// takes writes. Three members start on loopback and a writer goroutine
// writes numbered keys through each member in turn. A fourth member
// joins (Config.Join, presenting the cluster's ClusterToken): it serves
// at once as a learner, and the leader promotes it to voter once it has
// caught up. Then one of the first members, the leader if it is one of
// them, leaves (Store.Leave): it hands leadership away, is removed and
// closes. The writer retries a write that fails with a retryable error
// on another member and records every write acknowledged; at the end a
// linearizable read on every remaining member must find all of them.
//
//	go run ./examples/membership
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/examples/internal/localcluster"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run runs the example, printing to out. It stops every member and
// removes their data before it returns.
func run(ctx context.Context, out io.Writer) (err error) {
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	c, err := localcluster.Start(3)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "started m1, m2, m3; leader %s\n", c.Members[leader].ID())
	if err := printMembers(ctx, out, c.Members[leader]); err != nil {
		return err
	}

	// Writes go on through every step below.
	w := startWriter(ctx, slices.Clone(c.Members))
	defer w.stop() // on an early return; a no-op after the stop below
	if err := w.waitAcked(ctx, 100); err != nil {
		return err
	}
	fmt.Fprintln(out, "writer: writes/000000, writes/000001, ... through each member in turn")

	// A fourth member joins through the running ones. Open (here in
	// Join) returns once it serves linearizable reads, as a learner.
	start := time.Now()
	j, err := c.Join(ctx)
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	joined := c.Members[j]
	fmt.Fprintf(out, "%s joined in %v, with %d writes acknowledged so far\n", joined.ID(), since(start), w.acked())
	if err := printMembers(ctx, out, joined); err != nil {
		return err
	}
	w.add(joined)

	// The leader promotes it once its log keeps up with the leader's.
	if err := waitVoter(ctx, joined); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s promoted to voter %v after it started joining\n", joined.ID(), since(start))
	if err := printMembers(ctx, out, joined); err != nil {
		return err
	}

	// One of the first members leaves: the leader if it is one of them,
	// which hands leadership to another voter first.
	leaving, role := 0, "a follower"
	for i, m := range c.Members[:3] {
		if m.IsLeader() {
			leaving, role = i, "the leader"
		}
	}
	left := c.Members[leaving]
	start = time.Now()
	if err := leave(ctx, c, leaving); err != nil {
		return fmt.Errorf("%s leaves: %w", left.ID(), err)
	}
	w.remove(left)
	fmt.Fprintf(out, "%s (%s) left in %v\n", left.ID(), role, since(start))
	if err := printMembers(ctx, out, joined); err != nil {
		return err
	}

	// A few more writes on the smaller cluster, then stop.
	if err := w.waitAcked(ctx, w.acked()+100); err != nil {
		return err
	}
	acked, retried, err := w.stop()
	if err != nil {
		return fmt.Errorf("writer: %w", err)
	}
	fmt.Fprintf(out, "writer stopped: %d writes acknowledged, %s\n", len(acked), retried)
	return verify(ctx, out, c.Members, acked)
}

// since is the time since start, rounded for printing.
func since(start time.Time) time.Duration {
	return time.Since(start).Round(10 * time.Millisecond)
}

// printMembers prints s's linearizable member list, by name.
func printMembers(ctx context.Context, out io.Writer, s *keel.Store) error {
	ml, err := s.MemberList(ctx)
	if err != nil {
		return fmt.Errorf("member list on %s: %w", s.ID(), err)
	}
	ms := slices.SortedFunc(slices.Values(ml.Members), func(a, b *keel.Member) int { return strings.Compare(a.Name, b.Name) })
	leader := s.Leader()
	fmt.Fprintf(out, "  members (%d), as %s lists them:\n", len(ms), s.ID())
	for _, m := range ms {
		role := "voter"
		if m.IsLearner {
			role = "learner"
		}
		if m.Name == leader {
			role += ", leader"
		}
		fmt.Fprintf(out, "    %-3s %016x  %-16s %s\n", m.Name, m.ID, strings.Join(m.PeerURLs, ","), role)
	}
	return nil
}

// waitVoter waits until s's member list shows s as a voter.
func waitVoter(ctx context.Context, s *keel.Store) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ml, err := s.MemberList(ctx)
		if err == nil {
			for _, m := range ml.Members {
				if m.ID == s.MemberID() && !m.IsLearner {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s was not promoted to voter: %w (last member list error: %v)", s.ID(), ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// leave makes member i leave. Membership changes are made one at a time,
// and the leader may still be committing the promotion that the member
// list already shows: ErrChangeInProgress asks to retry.
func leave(ctx context.Context, c *localcluster.Cluster, i int) error {
	for {
		err := c.Leave(ctx, i)
		if !errors.Is(err, keel.ErrChangeInProgress) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// verify checks on every running member, with a linearizable read, that
// every acknowledged write is present: its value, at its revision or a
// later one (a retried write whose first attempt also landed late).
func verify(ctx context.Context, out io.Writer, members []*keel.Store, acked []ack) error {
	var names []string
	for _, m := range members {
		if m == nil {
			continue
		}
		names = append(names, m.ID())
		gr, err := m.Get(ctx, "writes/", keel.WithPrefix())
		if err != nil {
			return fmt.Errorf("read on %s: %w", m.ID(), err)
		}
		kvs := make(map[string]*keel.KeyValue, len(gr.Kvs))
		for _, kv := range gr.Kvs {
			kvs[string(kv.Key)] = kv
		}
		var missing []string
		for _, a := range acked {
			kv := kvs[a.key]
			if kv == nil || string(kv.Value) != a.value || kv.ModRevision < a.rev {
				missing = append(missing, a.key)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s: %d of %d acknowledged writes are missing, the first %s", m.ID(), len(missing), len(acked), missing[0])
		}
		fmt.Fprintf(out, "  %s holds %d keys at revision %d\n", m.ID(), len(gr.Kvs), gr.Header.Revision)
	}
	fmt.Fprintf(out, "%d writes acknowledged, %d present on every member (%s), none lost\n", len(acked), len(acked), strings.Join(names, ", "))
	return nil
}
