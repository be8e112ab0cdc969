package feedrelay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
)

// Prefix is the path prefix of the relay's protocol, version 1.
const Prefix = "/flashstor/feed/v1/"

// EventsPath is the one call of version 1.
const EventsPath = Prefix + "events"

// Limits of one request.
const (
	// MaxEvents is the most events one request carries.
	MaxEvents = 512
	// MaxBody is the largest body a receiver reads: MaxEvents events of a 1024-byte key,
	// another for a rename, and an object's metadata (S3 caps its user part at 2 KiB)
	// fit several times over.
	MaxBody = 16 << 20
)

// Batch is the body of an events request.
type Batch struct {
	// Resync tells that the sender lost events for this receiver since its last delivery:
	// the receiver's subscribers must drop everything they cached.
	Resync bool    `json:"resync,omitempty"`
	Events []Event `json:"events"`
}

// Event is one change on the wire: objstore.Event without its origin.
type Event struct {
	Type   string               `json:"t"`
	Bucket string               `json:"b"`
	Key    string               `json:"k,omitempty"`
	NewKey string               `json:"n,omitempty"`
	Info   *objstore.ObjectInfo `json:"i,omitempty"`
}

// relayedTypes are the event types that cross nodes, by wire name.
var relayedTypes = map[string]objstore.EventType{}

func init() {
	for _, t := range []objstore.EventType{objstore.EventPut, objstore.EventDelete, objstore.EventRename,
		objstore.EventMetadata, objstore.EventBucketCreated, objstore.EventBucketDeleted} {
		relayedTypes[t.String()] = t
	}
}

// relayed reports whether events of type t cross nodes. Bucket-config events do not:
// etcd's watch brings them to every node; resync events are the relay's own.
func relayed(t objstore.EventType) bool {
	switch t {
	case objstore.EventPut, objstore.EventDelete, objstore.EventRename, objstore.EventMetadata,
		objstore.EventBucketCreated, objstore.EventBucketDeleted:
		return true
	}
	return false
}

func toWire(e objstore.Event) Event {
	w := Event{Type: e.Type.String(), Bucket: e.Bucket, Key: e.Key, NewKey: e.NewKey}
	switch e.Type {
	case objstore.EventPut, objstore.EventRename, objstore.EventMetadata:
		info := e.Info
		// The parts stay home: no subscriber reads them from an event, and an upload of
		// 10000 parts would make one event weigh a megabyte.
		info.Parts = nil
		w.Info = &info
	}
	return w
}

// encode appends the JSON of b to buf.
func encode(buf *bytes.Buffer, b *Batch) error { return json.NewEncoder(buf).Encode(b) }

// Decode reads and checks a batch: every event of a type that crosses nodes, with a valid
// bucket name and, for object events, a valid key (a rename's new key too).
func Decode(r io.Reader) ([]objstore.Event, bool, error) {
	dec := json.NewDecoder(io.LimitReader(r, MaxBody+1))
	dec.DisallowUnknownFields()
	var b Batch
	if err := dec.Decode(&b); err != nil {
		return nil, false, fmt.Errorf("feed batch: %w", err)
	}
	if dec.More() {
		return nil, false, errors.New("feed batch: data after the batch")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, errors.New("feed batch: data after the batch")
	}
	if len(b.Events) > MaxEvents {
		return nil, false, fmt.Errorf("feed batch: %d events, more than %d", len(b.Events), MaxEvents)
	}
	out := make([]objstore.Event, 0, len(b.Events))
	for i, w := range b.Events {
		e, err := w.check()
		if err != nil {
			return nil, false, fmt.Errorf("feed batch: event %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, b.Resync, nil
}

// check turns a wire event into an objstore.Event, refusing what no node sends.
func (w Event) check() (objstore.Event, error) {
	t, ok := relayedTypes[w.Type]
	if !ok {
		return objstore.Event{}, fmt.Errorf("unknown event type %q", w.Type)
	}
	if err := layout.CheckBucketName(w.Bucket); err != nil {
		return objstore.Event{}, fmt.Errorf("bucket %q: %w", w.Bucket, err)
	}
	e := objstore.Event{Type: t, Bucket: w.Bucket, Key: w.Key, NewKey: w.NewKey}
	object := t != objstore.EventBucketCreated && t != objstore.EventBucketDeleted
	switch {
	case !object && (w.Key != "" || w.NewKey != "" || w.Info != nil):
		return objstore.Event{}, errors.New("a bucket event names a key")
	case !object:
		return e, nil
	}
	if err := layout.CheckKey(w.Key); err != nil {
		return objstore.Event{}, fmt.Errorf("key: %w", err)
	}
	if t == objstore.EventRename {
		if err := layout.CheckKey(w.NewKey); err != nil {
			return objstore.Event{}, fmt.Errorf("new key: %w", err)
		}
	} else if w.NewKey != "" {
		return objstore.Event{}, errors.New("new key outside a rename")
	}
	// A rename of a directory's prefix carries no object.
	needInfo, mayInfo := t == objstore.EventPut || t == objstore.EventMetadata, t != objstore.EventDelete
	switch {
	case needInfo && w.Info == nil:
		return objstore.Event{}, fmt.Errorf("%s event without object info", w.Type)
	case !mayInfo && w.Info != nil:
		return objstore.Event{}, errors.New("delete event with object info")
	case w.Info != nil && w.Info.Size < 0:
		return objstore.Event{}, errors.New("negative object size")
	}
	if w.Info != nil {
		e.Info = *w.Info
	}
	return e, nil
}
