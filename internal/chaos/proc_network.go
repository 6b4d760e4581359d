package chaos

import (
	"fmt"
)

// Network is the set of proxies between the members of a cluster: one per
// directed link i→j (i != j). Member i reaches member j only through
// Proxy(i, j). It is safe for concurrent use.
type Network struct {
	addrs   []string
	proxies [][]*Proxy // [from][to]; nil on the diagonal
}

// NewNetwork starts a proxy for every directed link between the members
// listening on addrs.
func NewNetwork(addrs []string) (*Network, error) {
	n := &Network{addrs: append([]string(nil), addrs...), proxies: make([][]*Proxy, len(addrs))}
	for i := range addrs {
		n.proxies[i] = make([]*Proxy, len(addrs))
		for j := range addrs {
			if i == j {
				continue
			}
			p, err := NewProxy(addrs[j])
			if err != nil {
				_ = n.Close() // best effort: report the listen error
				return nil, err
			}
			n.proxies[i][j] = p
		}
	}
	return n, nil
}

// Proxy returns the proxy of the link from → to.
func (n *Network) Proxy(from, to int) *Proxy { return n.proxies[from][to] }

// Routes returns member i's dial table: each peer's listen address mapped
// to the proxy of the link i → peer.
func (n *Network) Routes(i int) map[string]string {
	r := map[string]string{}
	for j, a := range n.addrs {
		if j != i {
			r[a] = n.proxies[i][j].Addr()
		}
	}
	return r
}

// Isolate drops all traffic between the members in group and the others,
// in both directions.
func (n *Network) Isolate(group ...int) error {
	in := map[int]bool{}
	for _, g := range group {
		if g < 0 || g >= len(n.addrs) {
			return fmt.Errorf("%w: member %d", ErrInvalidArgument, g)
		}
		in[g] = true
	}
	for i := range n.addrs {
		for j := range n.addrs {
			if i != j && in[i] != in[j] {
				n.proxies[i][j].SetDrop(true, true)
			}
		}
	}
	return nil
}

// DropOneWay drops every byte from member from to member to (requests on
// links from→to and responses on links to→from), leaving the other
// direction intact.
func (n *Network) DropOneWay(from, to int) error {
	if from == to || from < 0 || to < 0 || from >= len(n.addrs) || to >= len(n.addrs) {
		return fmt.Errorf("%w: link %d→%d", ErrInvalidArgument, from, to)
	}
	n.proxies[from][to].SetDrop(true, n.proxies[from][to].dropRx.Load())
	n.proxies[to][from].SetDrop(n.proxies[to][from].dropTx.Load(), true)
	return nil
}

// Heal clears every fault on every link.
func (n *Network) Heal() {
	n.each(func(p *Proxy) { p.Heal() })
}

// Dropped returns the chunks dropped on all links so far.
func (n *Network) Dropped() int64 {
	var d int64
	n.each(func(p *Proxy) { d += p.Dropped() })
	return d
}

// Close stops every proxy. It is idempotent.
func (n *Network) Close() error {
	var first error
	n.each(func(p *Proxy) {
		if err := p.Close(); err != nil && first == nil {
			first = err
		}
	})
	return first
}

func (n *Network) each(f func(*Proxy)) {
	for _, row := range n.proxies {
		for _, p := range row {
			if p != nil {
				f(p)
			}
		}
	}
}
