package httpserver

import "bytes"

// Router sends each request whose path, as sent (not percent-decoded), starts with a
// prefix to one handler and every other request to the next. It is how one listener
// serves S3 and the node-to-node API: a request is routed on its raw path only, so an S3
// request can reach the prefixed handler only by naming its prefix byte for byte.
type Router struct {
	prefix  []byte
	h, next Handler
}

// Route returns a Router that sends requests under prefix to h, the others to next.
func Route(prefix string, h, next Handler) *Router {
	return &Router{prefix: []byte(prefix), h: h, next: next}
}

// Next returns the handler of the requests outside the prefix (a server that configures
// the S3 handler finds it behind the router).
func (rt *Router) Next() Handler { return rt.next }

// ServeHTTP1 routes one request.
func (rt *Router) ServeHTTP1(w ResponseWriter, r *Request) {
	if bytes.HasPrefix(r.Path, rt.prefix) {
		rt.h.ServeHTTP1(w, r)
		return
	}
	rt.next.ServeHTTP1(w, r)
}
