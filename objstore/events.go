package objstore

import (
	"context"
	"sync"
)

// EventType is the kind of change an Event reports.
type EventType int

// The kinds of change.
const (
	// EventPut: an object was written (put, copy, multipart completion).
	EventPut EventType = iota + 1
	// EventDelete: an object was removed.
	EventDelete
	// EventRename: an object moved from Key to NewKey.
	EventRename
	// EventMetadata: an object's metadata changed, not its data.
	EventMetadata
	// EventBucketCreated and EventBucketDeleted: a bucket came or went.
	EventBucketCreated
	EventBucketDeleted
	// EventBucketConfig: a configuration document of Bucket (named Key) changed, here or,
	// in a cluster, on another node; Bucket "" means any bucket's may have changed. The
	// caches of bucket settings drop their entries on it.
	EventBucketConfig
	// EventResync: the subscriber may have missed changes (of Bucket; "" for every bucket),
	// as a cluster node does whose relay from another node lost events: it drops whatever
	// it cached of them.
	EventResync
)

var eventNames = [...]string{"", "put", "delete", "rename", "metadata", "bucket-created", "bucket-deleted", "bucket-config", "resync"}

func (t EventType) String() string {
	if t < 0 || int(t) >= len(eventNames) {
		return "unknown"
	}
	return eventNames[t]
}

// Event is one change of the store.
type Event struct {
	Type   EventType
	Bucket string
	Key    string
	// NewKey is the destination of a rename.
	NewKey string
	// Info describes the object after a put, rename or metadata change.
	Info ObjectInfo
	// Origin is the value WithOrigin put in the context of the call that made the change,
	// so that a subscriber can tell its own changes from others'.
	Origin any
}

type originKey struct{}

// WithOrigin returns a context whose changes carry origin in their events.
func WithOrigin(ctx context.Context, origin any) context.Context {
	return context.WithValue(ctx, originKey{}, origin)
}

// OriginOf returns the origin WithOrigin put in ctx, or nil.
func OriginOf(ctx context.Context) any { return ctx.Value(originKey{}) }

// Feed delivers events to subscribers. Implementations of ObjectLayer embed one. The zero
// value is ready to use.
type Feed struct {
	mu sync.RWMutex
	// subs is guarded by mu; cancelled subscriptions are removed from it.
	subs   map[int]subscription
	nextID int
}

type subscription struct {
	bucket string
	fn     func(Event)
}

// Subscribe registers fn for the events of bucket ("" for all).
func (f *Feed) Subscribe(bucket string, fn func(Event)) (cancel func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = make(map[int]subscription)
	}
	id := f.nextID
	f.nextID++
	f.subs[id] = subscription{bucket: bucket, fn: fn}
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

// Publish delivers e, with the origin of ctx, to every matching subscriber, in the calling
// goroutine. Subscribers run without the feed's lock held, so they may subscribe or cancel.
func (f *Feed) Publish(ctx context.Context, e Event) {
	e.Origin = OriginOf(ctx)
	f.mu.RLock()
	fns := make([]func(Event), 0, len(f.subs))
	for _, s := range f.subs {
		if s.bucket == "" || s.bucket == e.Bucket {
			fns = append(fns, s.fn)
		}
	}
	f.mu.RUnlock()
	for _, fn := range fns {
		fn(e)
	}
}
