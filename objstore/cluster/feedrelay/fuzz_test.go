package feedrelay

import (
	"bytes"
	"net"
	"reflect"
	"testing"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// FuzzDecode: any body decodes or fails without a panic; what decodes re-encodes to the
// same events.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"events":[{"t":"delete","b":"bkt","k":"a"}]}`,
		`{"resync":true,"events":[]}`,
		`{"events":[{"t":"put","b":"bkt","k":"a/b","i":{"Size":3,"ETag":"x","Metadata":{"a":"b"},"Parts":[{"Number":1}]}}]}`,
		`{"events":[{"t":"rename","b":"bkt","k":"a/","n":"b/"}]}`,
		`{"events":[{"t":"bucket-created","b":"bkt"}]}`,
		`{"events":null}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, resync, err := Decode(bytes.NewReader(body))
		if err != nil {
			return
		}
		b := Batch{Resync: resync}
		for _, e := range events {
			b.Events = append(b.Events, toWire(e))
		}
		var buf bytes.Buffer
		if err := encode(&buf, &b); err != nil {
			t.Fatal(err)
		}
		again, resync2, err := Decode(&buf)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v\n%s", err, buf.Bytes())
		}
		if resync2 != resync || len(again) != len(events) {
			t.Fatalf("round trip changed the batch: %+v -> %+v", events, again)
		}
		for i := range events {
			if events[i].Type != again[i].Type || events[i].Key != again[i].Key || events[i].NewKey != again[i].NewKey ||
				events[i].Bucket != again[i].Bucket || !reflect.DeepEqual(events[i].Info.Metadata, again[i].Info.Metadata) {
				t.Fatalf("event %d changed: %+v -> %+v", i, events[i], again[i])
			}
		}
	})
}
