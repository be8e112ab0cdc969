package etcdtest

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a Server until cut: then it drops every connection
// and refuses new ones, as a network partition does to a client, until restored.
type Proxy struct {
	// Endpoints are the client URLs that reach the server through the proxy.
	Endpoints []string
	ln        net.Listener
	target    string
	mu        sync.Mutex
	cut       bool                  // GUARDED_BY(mu)
	conns     map[net.Conn]struct{} // GUARDED_BY(mu)
	running   sync.WaitGroup
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
		p.mu.Unlock()
		p.running.Go(func() { io.Copy(up, c); p.drop(up) })
		p.running.Go(func() { io.Copy(c, up); p.drop(c) })
	}
}

// drop closes c and forgets it.
func (p *Proxy) drop(c net.Conn) {
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
	}
}
