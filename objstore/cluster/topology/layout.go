package topology

import (
	"fmt"
	"net"
	"strings"

	"github.com/flashstor/flashstor/objstore/format"
)

// Placement is where the drives of a topology go: Sets[s][i] is the index in Endpoints of
// the drive at position i of set s.
type Placement struct {
	Sets   [][]int
	Parity int
}

// Order returns the endpoints' indexes in set order: set 0's positions, then set 1's.
func (p *Placement) Order() []int {
	var out []int
	for _, s := range p.Sets {
		out = append(out, s...)
	}
	return out
}

// Place lays the drives out into erasure sets. The set size is what format.SetSize gives
// for the number of drives (all of them up to 16, else the largest size from 16 down that
// divides it); parity is the given one, or format.DefaultParity of the set size when
// negative. Positions interleave the nodes (drive 1 of every node, then drive 2 of every
// node, ...), so each set spreads over as many nodes as it can. A layout in which one node
// holds more drives of a set than its parity is refused: losing that node would lose the
// set's data. A single node is exempt (losing it loses everything anyway).
func (t *Topology) Place(parity int) (*Placement, error) {
	n := len(t.Endpoints)
	size, err := format.SetSize(n)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	if parity < 0 {
		parity = format.DefaultParity(size)
	}
	if parity > size/2 {
		return nil, fmt.Errorf("topology: parity %d is more than half of the set size %d", parity, size)
	}
	var order []int
	for r := 0; len(order) < n; r++ {
		for _, ds := range t.NodeDrives {
			if r < len(ds) {
				order = append(order, ds[r])
			}
		}
	}
	p := &Placement{Parity: parity}
	for s := 0; s < n/size; s++ {
		p.Sets = append(p.Sets, order[s*size:(s+1)*size])
	}
	if len(t.Nodes) == 1 {
		return p, nil
	}
	for s, set := range p.Sets {
		count := make(map[string]int)
		for _, e := range set {
			count[t.Endpoints[e].Node]++
		}
		for _, node := range t.Nodes {
			if c := count[node]; c > parity {
				return nil, fmt.Errorf("topology: node %s would hold %d drives of erasure set %d (%d drives, parity %d): losing it would lose the set; give more nodes, fewer drives per node, or more parity",
					node, c, s, size, parity)
			}
		}
	}
	return p, nil
}

// Local returns the indexes in Endpoints of node self's drives (none for a gateway).
func (t *Topology) Local(self string) []int {
	for i, n := range t.Nodes {
		if n == strings.ToLower(self) {
			return t.NodeDrives[i]
		}
	}
	return nil
}

// Self finds which node of the list this process is, from the address it listens on
// (host:port). A listed node equal to address is it. Otherwise (address of the form
// ":9000" or "0.0.0.0:9000", or a name the list writes differently) it is the node with
// that port whose host resolves to one of the addresses localIPs lists (the machine's
// interfaces). None: the process is a gateway and self is address. More than one: the list
// names this machine twice on that port, and address must say which.
func (t *Topology) Self(address string, localIPs []net.IP, lookup func(host string) ([]net.IP, error)) (self string, member bool, err error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", false, fmt.Errorf("topology: address %q: want host:port", address)
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		if t.Local(address) != nil {
			return strings.ToLower(address), true, nil
		}
		// A specific address: only nodes that resolve to it are this process.
		localIPs = []net.IP{ip}
		if ip == nil {
			ips, err := lookup(host)
			if err != nil {
				return "", false, fmt.Errorf("topology: address %q: %w", address, err)
			}
			localIPs = ips
		}
	}
	var found []string
	for _, n := range t.Nodes {
		nh, np, _ := net.SplitHostPort(n)
		if np != port {
			continue
		}
		ips := []net.IP{net.ParseIP(nh)}
		if ips[0] == nil {
			if ips, err = lookup(nh); err != nil {
				continue // a node whose name does not resolve here is not this one
			}
		}
		if anyEqual(ips, localIPs) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return address, false, nil
	case 1:
		return found[0], true, nil
	}
	return "", false, fmt.Errorf("topology: nodes %s all resolve to this machine on port %s: listen on a specific address (--address host:port) to say which one this is",
		strings.Join(found, ", "), port)
}

func anyEqual(a, b []net.IP) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Equal(y) {
				return true
			}
		}
	}
	return false
}

// InterfaceIPs returns the addresses of the machine's network interfaces.
func InterfaceIPs() ([]net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("topology: listing interface addresses: %w", err)
	}
	var ips []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP)
		}
	}
	return ips, nil
}
