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
		p.running.Go(func() { p.forward(up, c); p.close(up); p.close(c) })
		p.running.Go(func() { io.Copy(c, up); p.close(c) })
	}
}

// forward copies what the client sends on c to up, until either closes or a read matches
// the armed DropFirst: that read is not forwarded.
func (p *Proxy) forward(up, c net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			p.mu.Lock()
			lose := p.drop != nil && p.drop(buf[:n])
			if lose {
				p.drop = nil
				close(p.dropped)
			}
			p.mu.Unlock()
			if lose {
				return
			}
			if _, err := up.Write(buf[:n]); err != nil {
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
	}
}
