package httpserver

import (
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/internal/arena"
	"github.com/flashstor/flashstor/internal/httpwire"
)

// reqState is everything a request needs besides the connection's input buffer. It is
// pooled per server: a connection holds one only while a request is being parsed or served.
type reqState struct {
	head  httpwire.Head
	req   Request
	resp  response
	body  body
	arena *arena.Arena

	iov      [][]byte  // vectored write list, reused
	extra    [1][]byte // Write's single buffer, without allocating a slice
	chunkHdr [24]byte  // a chunk-size line
	tlsOut   []byte    // TLS connections: small writes gathered into one record (arena)

	// ready and timer let a handler park until the loop sees its socket ready (waitPark).
	ready chan struct{}
	timer *time.Timer
}

func newReqState(s *Server) any {
	rs := &reqState{arena: arena.New(s.pool), ready: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	rs.timer.Stop()
	rs.req.base = s.baseCtx
	return rs
}

func (s *Server) getState() *reqState { return s.states.Get().(*reqState) }

// putState returns rs to the pool with its arena blocks released, so that pooled states hold
// no block memory.
func (s *Server) putState(rs *reqState) {
	rs.endRequest()
	rs.arena.Release()
	s.states.Put(rs)
}

// startRequest prepares the request, body reader and response writer for the head just
// parsed into rs.head on connection c.
func (rs *reqState) startRequest(c *conn) {
	s := c.loop.s
	rs.req.fill(&rs.head)
	rs.req.RemoteAddr = c.remote
	rs.req.Arena = rs.arena
	rs.req.Body = &rs.body
	rs.req.trailer = &rs.body
	if c.tls != nil {
		rs.req.tlsConn = c.tls.conn
	}
	rs.req.started = s.now()
	rs.body.reset(c, rs)
	rs.resp.reset(c, rs, &s.stats.BadResponseFields)
}

// endRequest drops every view of the request that just ended and resets its arena in O(1).
func (rs *reqState) endRequest() {
	rs.req.end()
	rs.head.Reset()
	clear(rs.head.Fields[:cap(rs.head.Fields)])
	rs.resp.end()
	rs.body.c = nil
	rs.tlsOut = nil
	rs.arena.Reset()
}

// dateCache renders the Date field once per second.
type dateCache struct {
	cur atomic.Pointer[dateValue]
}

type dateValue struct {
	sec int64
	b   [len(httpwire.TimeFormat)]byte
}

// appendDate appends the current time in IMF-fixdate form.
func (d *dateCache) appendDate(dst []byte) []byte {
	now := time.Now()
	v := d.cur.Load()
	if v == nil || v.sec != now.Unix() {
		v = &dateValue{sec: now.Unix()}
		httpwire.AppendDate(v.b[:0], now)
		d.cur.Store(v)
	}
	return append(dst, v.b[:]...)
}
