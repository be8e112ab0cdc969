// Package audit is the asynchronous audit log: one JSON object per line for every request,
// handed off by request goroutines without blocking and written in batches by one consumer
// goroutine to a file or a webhook.
//
// Hand-off: each producer shard owns a pair of lock-free SPSC rings (internal/spsc) and a
// fixed set of record slots. Emit copies the record into a free slot (so the caller's
// strings may be views into memory it reuses, such as a request arena) and queues the
// slot's index; the consumer encodes the slot, writes the batch and hands the slot back.
// A producer never waits: when its shard has no free slot the record is dropped and
// counted. Emit and the consumer allocate nothing in steady state.
//
// Two ways to produce: Log.Producer returns a shard for the exclusive use of one goroutine
// at a time (an event loop), and Log.Emit spreads records of any goroutine over a set of
// shared shards, each taken with a try-lock that never waits (a busy set of shards drops
// the record, counted apart).
//
// The record holds no secret: no secret key, no signature, no session token, no header
// values; only the access key id that signed the request.
package audit

import (
	"net/netip"
	"time"
)

// Record is one request's audit record. Its JSON form (AppendJSON) has one member per
// field, named by the json tags below, in this order; durations are integer nanoseconds.
type Record struct {
	Time       time.Time      `json:"time"`       // when the request started (UTC in the log)
	RequestID  string         `json:"requestID"`  // the x-amz-request-id sent to the client
	RemoteAddr netip.AddrPort `json:"remoteAddr"` // the client's address
	AccessKey  string         `json:"accessKey"`  // access key id that signed the request, "" if anonymous
	Operation  string         `json:"operation"`  // S3 operation name, e.g. "PutObject"
	Bucket     string         `json:"bucket"`     //
	Key        string         `json:"key"`        // object key, "" for bucket and service operations
	Status     int            `json:"status"`     // HTTP status sent
	ErrorCode  string         `json:"errorCode"`  // S3 error code, "" on success
	BytesIn    int64          `json:"bytesIn"`    // request body bytes read
	BytesOut   int64          `json:"bytesOut"`   // response body bytes sent

	Duration time.Duration `json:"durationNs"` // from the complete request head until the handler has written the response (a last buffered piece of at most 4 KiB goes out after)
	// The parts of Duration; what is left over is parsing, routing and the handler itself.
	Auth     time.Duration `json:"authNs"`     // signature check and policy evaluation
	LockWait time.Duration `json:"lockWaitNs"` // waiting for namespace locks
	Storage  time.Duration `json:"storageNs"`  // erasure coding and drive I/O
	Response time.Duration `json:"responseNs"` // sending the response

	// LockHeld is not a part of Duration but what the request cost others: how long it
	// held namespace write locks (a write holds its key's only to commit).
	LockHeld time.Duration `json:"lockHeldNs"`
}
