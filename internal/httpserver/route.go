package httpserver

import "bytes"

// Route returns a handler that sends each request whose path, as sent (not
// percent-decoded), starts with prefix to h, and every other request to next. It is how
// one listener serves S3 and the node-to-node API: a request is routed on its raw path
// only, so an S3 request can reach h only by naming h's prefix byte for byte.
func Route(prefix string, h, next Handler) Handler {
	return &router{prefix: []byte(prefix), h: h, next: next}
}

type router struct {
	prefix  []byte
	h, next Handler
}

func (rt *router) ServeHTTP1(w ResponseWriter, r *Request) {
	if bytes.HasPrefix(r.Path, rt.prefix) {
		rt.h.ServeHTTP1(w, r)
		return
	}
	rt.next.ServeHTTP1(w, r)
}
