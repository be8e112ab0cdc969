// Package s3frontend is the S3 face of Flashstor: the S3 API over the object layer.
//
// A Handler (New) serves S3 requests on the httpserver transport: it maps each request once
// to its operation through the router's dispatch table, verifies its SigV4 signature (a
// request without one is AccessDenied unless a public-read ACL opens what it reads; see
// authz.go), runs the operation against the
// objstore.ObjectLayer and answers with S3's status codes, headers and XML documents. A
// Server runs a Handler on the epoll transport or behind net/http.
//
// Data never sits in memory whole: a PUT body streams from the socket through the
// signature and checksum verifier into the object layer, which aborts the write if the
// verifier fails, even at the very end; a GET streams from the object layer's decoder into
// the response writer, stripe by stripe, with vectored writes.
//
// Memory discipline: the transport's request views (path, query, headers) are valid only
// during ServeHTTP1. The per-request state is pooled; bucket and key are copied into Go
// strings because the object layer may keep them (locks, heal queue, events); every other
// per-request byte comes from the request's arena or from the pooled state's buffers.
package s3frontend
