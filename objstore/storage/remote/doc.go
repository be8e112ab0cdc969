// Package remote reaches a drive on another node over HTTP: Client implements storage.Drive
// by calling the Handler that node runs in front of its local drives. The object core cannot
// tell a remote drive from a local one.
//
// # Wire protocol, version 1
//
// Every call is one HTTP request to
//
//	/flashstor/drive/v1/<drive>/<op>?<arguments>
//
// where <drive> names one of the node's drives (Handler's map key) and <op> is one of the
// storage.Drive methods below. A new incompatible protocol gets a new prefix (v2); a node
// answers 404 to a version it does not speak. Arguments are URL query parameters (any bytes,
// percent-encoded): vol, path, key, svol, spath, dvol, dpath, dkey, size, off, len, force,
// recursive, prefix, after, meta.
//
//	op            method  arguments               request body      response body
//	diskinfo      GET                             -                 JSON storage.DiskInfo
//	readformat    GET                             -                 the record
//	writeformat   PUT                             -                 the record
//	makevolume    POST    vol                     -                 -
//	statvolume    GET     vol                     -                 creation, Unix ns, decimal
//	listvolumes   GET                             -                 JSON []string
//	deletevolume  POST    vol force               -                 -
//	createfile    PUT     vol path size           the file, streamed (chunked; see below)
//	openfile      GET     vol path                -                 the size, decimal
//	readat        GET     vol path off len        -                 up to len bytes, streamed
//	readfile      GET     vol path                -                 the file
//	writefile     PUT     vol path                the file          -
//	renamefile    POST    svol spath dvol dpath   -                 -
//	delete        POST    vol path recursive      -                 -
//	listdir       GET     vol path                -                 JSON []string
//	readmeta      GET     vol key                 -                 the metadata
//	commit        PUT     vol key svol spath      the metadata      -
//	deleteobject  POST    vol key                 -                 -
//	renameobject  POST    vol key dkey            -                 -
//	walk          GET     vol prefix after recursive meta   -       JSON lines, see below
//
// Success is 200. A drive error is 409 with header X-Flashstor-Error naming the storage error
// (errors.go's codes: "file-not-found", "invalid-path", ...) and the message as body; the
// client rebuilds an error that errors.Is the same storage sentinel. 400 is a malformed
// request (a malformed chunked body or trailer included), 401 a request without valid node
// credentials (empty body), 404 an unknown drive, op or version.
//
// Every request body (createfile, writeformat, writefile, commit) is sent chunked and
// signed: its last trailer field X-Flashstor-Body-Mac is hex HMAC-SHA256 under the cluster
// secret of "v1-body\n<nonce>\n" and the body, nonce being the token's (body.go). The
// handler checks it at the end of the body, before the drive commits anything: a body
// without it, or with another, fails the drive's reader, so createfile leaves no file and
// nothing is written, and the answer is 401. When the caller's reader fails instead, the
// client ends the body with trailer X-Flashstor-Abort, and the handler turns the end of the
// body into an error, so the drive removes the partial file before the client returns. A
// body cut short (a node that died) removes it too. Shard data is never held whole in
// memory on either side: createfile streams through the drive's fixed buffer and readat
// through the transport's pooled one. Small bodies (formats, metadata, small files) are
// capped at MaxSmallBody.
//
// walk answers one JSON object per line for each entry ({"k":key,"p":isPrefix,"m":meta,
// "e":code,"em":message}) and ends with {"end":true} or, if the walk failed, {"end":true,
// "e":code,"em":message}; a response without the end line was cut and is an error. The
// client's callback runs as lines arrive; if it returns an error the client closes the
// response, which stops the walk on the server.
//
// # Authentication
//
// Every request carries header X-Flashstor-Node = "v1:<unix ms>:<nonce>:<mac>", where mac is
// hex HMAC-SHA256 under the cluster secret of "v1\n<method>\n<path>\n<raw query>\n<unix
// ms>\n<nonce>" (path and query as sent, percent-encoded). The handler refuses (401, empty
// body) a token older or newer than MaxSkew, a bad mac, and a nonce it has seen within the
// window (bounded replay: it remembers nonces for 2*MaxSkew, at most maxNonces of them, and
// refuses new requests while full rather than forget). The body is covered by its own mac
// (above), bound to the token by the nonce.
//
// Mutual TLS (--certs-dir): Handler.RequireClientCert makes the handler refuse (401, empty
// body) a request that did not come over TLS with a client certificate for client
// authentication chaining to the nodes' CA (the certs dir's CAs/ alone,
// tlsconf.Store.NodeCAs). The listener asks for client certificates without requiring
// them (tlsconf.Store.NodeServerConfig), so that S3 clients on the same listener need
// none; the handler verifies the chain itself and remembers leaves that verified.
// Clients present the node's own certificate (tlsconf.Store.NodeClientConfig, Options.TLS).
//
// # Transport
//
// Handler is an httpserver.Handler: nodes serve it on the epoll transport beside S3, one
// listener for both (httpserver.Route with Prefix, see cmd/flashstor's withNodeAPI), or on
// net/http through httpserver.NetHTTP (--transport nethttp, tests). The client uses
// net/http's pooled keep-alive connections. Metadata calls get a deadline of
// Options.CallTimeout unless the context has an earlier one; createfile and walk run as
// long as their context allows. A node that cannot be reached, or that refuses the
// credentials, is storage.ErrDriveOffline at once (dial timeout Options.DialTimeout); a
// call that passes its deadline is storage.ErrTimeout; the health wrapper (package health)
// takes either drive offline at once and probes it back.
package remote
