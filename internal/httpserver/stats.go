package httpserver

import (
	"sync/atomic"

	"github.com/flashstor/flashstor/internal/arena"
	"github.com/flashstor/flashstor/internal/httpwire"
)

// Stats are a server's live counters, safe to read at any time (each field is atomic; a
// set of fields read one after the other is not a consistent snapshot). Gauges go up and
// down; every other field only grows.
type Stats struct {
	Accepted atomic.Int64 // connections accepted (limit rejections included)
	Open     atomic.Int64 // gauge: connections open
	Active   atomic.Int64 // gauge: connections running a handler
	Idle     atomic.Int64 // gauge: keep-alive connections waiting for a request

	Requests           atomic.Int64 // requests handed to the handler
	HeaderTimeouts     atomic.Int64 // connections cut for not sending a head (or TLS handshake) in time
	IdleTimeouts       atomic.Int64 // keep-alive connections closed after Config.IdleTimeout
	BodyTimeouts       atomic.Int64 // body reads that failed after Config.BodyReadTimeout
	WriteTimeouts      atomic.Int64 // writes that failed after Config.WriteTimeout
	LimitRejections    atomic.Int64 // connections refused by Config.MaxConns
	Panics             atomic.Int64 // handler panics recovered
	BadResponseFields  atomic.Int64 // response header fields dropped as invalid
	BytesIn            atomic.Int64 // bytes read from clients (TLS: records as on the wire)
	BytesOut           atomic.Int64 // bytes written to clients (TLS: records as on the wire)
	TLSHandshakeErrors atomic.Int64 // TLS handshakes that failed (timeouts count as HeaderTimeouts)

	// Malformed counts requests rejected by the parser, indexed by httpwire.Reason.
	Malformed [httpwire.NumReasons]atomic.Int64

	pool *arena.Pool
}

// ArenaBlocks returns how many 64 KiB blocks (input buffers and arena blocks) are in use
// by connections, and how many are pooled for reuse.
func (s *Stats) ArenaBlocks() (inUse, pooled int64) {
	ps := s.pool.Stats()
	return ps.InUse, ps.Pooled
}

// MalformedTotal returns the sum of Malformed.
func (s *Stats) MalformedTotal() int64 {
	var n int64
	for i := range s.Malformed {
		n += s.Malformed[i].Load()
	}
	return n
}
