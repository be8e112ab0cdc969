// Package httpwire parses and renders the HTTP/1.1 wire format (RFC 9112) without doing any
// I/O and without allocating on the success path: a request head is parsed into views
// ([]byte sub-slices) of the caller's buffer, chunked bodies are decoded by a resumable state
// machine, and status lines, dates and chunk headers are appended to caller-owned buffers.
//
// The parser is deliberately stricter than net/http (see ParseHead for the list). Anything
// that could let two HTTP implementations disagree on where a message ends (request
// smuggling) is rejected with a *Error whose Status is 400 and whose Reason says why; a
// server must answer it and close the connection.
package httpwire
