package etcdtest

import (
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Proxy forwards TCP connections to a Server. Cut drops every connection and refuses new
// ones, as a network partition does to a client; Freeze holds every byte in both
// directions on connections that stay open, as a paused process does; DropFirst loses one
// request with its connection.
type Proxy struct {
	// Endpoints are the client URLs that reach the server through the proxy.
	Endpoints []string
	ln        net.Listener
	target    string
	mu        sync.Mutex
	// thawed is signalled when the proxy stops being frozen or is cut.
	thawed  *sync.Cond
	cut     bool                  // GUARDED_BY(mu)
	frozen  bool                  // GUARDED_BY(mu)
	conns   map[net.Conn]struct{} // GUARDED_BY(mu)
	clients int                   // connections accepted from clients; GUARDED_BY(mu)
	// drop matches the client's request to lose with its connection (DropFirst); nil:
	// none. GUARDED_BY(mu).
	drop func([]byte) bool
	// dropped is closed when the armed DropFirst fired. GUARDED_BY(mu).
	dropped chan struct{}
	running sync.WaitGroup
}

// Proxy starts a proxy to s on a loopback port; it stops when t ends.
func (s *Server) Proxy(t testing.TB) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	p := &Proxy{Endpoints: []string{"http://" + ln.Addr().String()}, ln: ln,
		target: strings.TrimPrefix(s.Endpoints[0], "http://"), conns: map[net.Conn]struct{}{}}
	p.thawed = sync.NewCond(&p.mu)
	p.running.Go(p.accept)
	t.Cleanup(func() { ln.Close(); p.Cut(true); p.running.Wait() })
	return p
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		p.mu.Lock()
		if err != nil || p.cut {
			p.mu.Unlock()
			c.Close()
			if up != nil {
				up.Close()
			}
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.clients++
		p.mu.Unlock()
		p.running.Go(func() { p.forward(up, c, true); p.close(up); p.close(c) })
		p.running.Go(func() { p.forward(c, up, false); p.close(c); p.close(up) })
	}
}

// forward copies src to dst until either closes. What a client sends (fromClient) is
// matched against the armed DropFirst: the read that matches is not forwarded and ends
// the connection. While the proxy is frozen, what was read waits.
func (p *Proxy) forward(dst, src net.Conn, fromClient bool) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			lose := fromClient && p.drop != nil && p.drop(buf[:n])
			if lose {
				p.drop = nil
				close(p.dropped)
			}
			for p.frozen && !p.cut {
				p.thawed.Wait()
			}
			cut := p.cut
			p.mu.Unlock()
			if lose || cut {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// DropFirst arms the proxy to lose the first piece of a client's stream that match
// accepts, with its connection: what etcd's client meets when the member it sent a
// request to stops answering (a paused process, a crash) before it answers. Pieces are
// what one read returns, a request or several, not split at request boundaries. The
// channel returned is closed once a piece was lost.
func (p *Proxy) DropFirst(match func([]byte) bool) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop, p.dropped = match, make(chan struct{})
	return p.dropped
}

// Freeze holds every byte the proxy reads, both ways, on connections it keeps open, and
// still accepts new ones (frozen), or lets them through again: to the client, the server
// went silent, as a stopped process does, until gRPC's keep-alive (if the client has one)
// gives up on the connection.
func (p *Proxy) Freeze(frozen bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = frozen
	p.thawed.Broadcast()
}

// Clients returns how many connections the proxy has accepted from clients so far.
func (p *Proxy) Clients() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clients
}

// close closes c and forgets it.
func (p *Proxy) close(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Cut drops every connection and refuses new ones (cut), or lets them through again.
func (p *Proxy) Cut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
		p.thawed.Broadcast()
	}
}

// Spread adds the endpoints of n new proxies to cli's and returns once cli connected to
// each (at most 5 s): the requests and streams cli opens from then on go to them and to its
// first endpoints in turn, while those it has open stay where they are.
func (s *Server) Spread(t testing.TB, cli *clientv3.Client, n int) []*Proxy {
	t.Helper()
	ps := make([]*Proxy, n)
	endpoints := slices.Clone(cli.Endpoints())
	for i := range ps {
		ps[i] = s.Proxy(t)
		endpoints = append(endpoints, ps[i].Endpoints...)
	}
	cli.SetEndpoints(endpoints...)
	for _, p := range ps {
		for i := 0; p.Clients() == 0; i++ {
			if i == 100 {
				t.Fatalf("etcdtest: the client did not connect to %s within 5 s", p.Endpoints[0])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return ps
}
