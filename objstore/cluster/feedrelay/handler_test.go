package feedrelay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// call sends one request to the relay at addr: signed with secret unless it is nil, with
// sum the body's SHA-256 unless sum is set.
func call(t *testing.T, addr, method, path string, query url.Values, body string, secret []byte) (int, string) {
	t.Helper()
	if query == nil {
		query = url.Values{"from": {"127.0.0.9:1"}, "sum": {sumHex(body)}}
	}
	req, err := http.NewRequest(method, "http://"+addr+path+"?"+query.Encode(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if secret != nil {
		remote.SignRequest(req, secret)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sumHex is the hex SHA-256 of body, as a sender puts it in the query.
func sumHex(body string) string {
	h := sha256.Sum256([]byte(body))
	return hex.EncodeToString(h[:])
}

func TestHandlerRefusesBadRequests(t *testing.T) {
	c := newEtcd(t)
	n := startNode(t, c, Config{}, nil)
	good := `{"events":[{"t":"delete","b":"bkt","k":"a"}]}`
	cases := []struct {
		name         string
		method, path string
		query        url.Values
		body         string
		secret       []byte
		want         int
	}{
		{"good", "POST", EventsPath, nil, good, testSecret, 200},
		{"empty batch", "POST", EventsPath, nil, `{"events":[]}`, testSecret, 200},
		{"no token", "POST", EventsPath, nil, good, nil, 401},
		{"other secret", "POST", EventsPath, nil, good, []byte("another-secret-0123456789"), 401},
		{"body not the signed one", "POST", EventsPath, url.Values{"from": {"x:1"}, "sum": {sumHex("other")}}, good, testSecret, 401},
		{"no sum", "POST", EventsPath, url.Values{"from": {"x:1"}}, good, testSecret, 400},
		{"short sum", "POST", EventsPath, url.Values{"from": {"x:1"}, "sum": {"abcd"}}, good, testSecret, 400},
		{"two sums", "POST", EventsPath, url.Values{"from": {"x:1"}, "sum": {sumHex(good), sumHex(good)}}, good, testSecret, 400},
		{"no from", "POST", EventsPath, url.Values{"sum": {sumHex(good)}}, good, testSecret, 400},
		{"GET", "GET", EventsPath, nil, "", testSecret, 404},
		{"other call", "POST", Prefix + "other", nil, good, testSecret, 404},
		{"version 2", "POST", "/flashstor/feed/v2/events", nil, good, testSecret, 404},
		{"not JSON", "POST", EventsPath, nil, `events`, testSecret, 400},
		{"two batches", "POST", EventsPath, nil, good + good, testSecret, 400},
		{"unknown field", "POST", EventsPath, nil, `{"events":[],"x":1}`, testSecret, 400},
		{"unknown type", "POST", EventsPath, nil, `{"events":[{"t":"explode","b":"bkt","k":"a"}]}`, testSecret, 400},
		{"bucket-config is not relayed", "POST", EventsPath, nil, `{"events":[{"t":"bucket-config","b":"bkt"}]}`, testSecret, 400},
		{"resync is not an event", "POST", EventsPath, nil, `{"events":[{"t":"resync","b":"bkt"}]}`, testSecret, 400},
		{"bad bucket", "POST", EventsPath, nil, `{"events":[{"t":"delete","b":"B..","k":"a"}]}`, testSecret, 400},
		{"empty key", "POST", EventsPath, nil, `{"events":[{"t":"delete","b":"bkt","k":""}]}`, testSecret, 400},
		{"NUL in key", "POST", EventsPath, nil, `{"events":[{"t":"delete","b":"bkt","k":"a\u0000b"}]}`, testSecret, 400},
		{"key too long", "POST", EventsPath, nil, `{"events":[{"t":"delete","b":"bkt","k":"` + strings.Repeat("k", 1025) + `"}]}`, testSecret, 400},
		{"put without info", "POST", EventsPath, nil, `{"events":[{"t":"put","b":"bkt","k":"a"}]}`, testSecret, 400},
		{"negative size", "POST", EventsPath, nil, `{"events":[{"t":"put","b":"bkt","k":"a","i":{"Size":-1}}]}`, testSecret, 400},
		{"delete with info", "POST", EventsPath, nil, `{"events":[{"t":"delete","b":"bkt","k":"a","i":{}}]}`, testSecret, 400},
		{"rename without new key", "POST", EventsPath, nil, `{"events":[{"t":"rename","b":"bkt","k":"a"}]}`, testSecret, 400},
		{"new key outside a rename", "POST", EventsPath, nil, `{"events":[{"t":"delete","b":"bkt","k":"a","n":"b"}]}`, testSecret, 400},
		{"bucket event with a key", "POST", EventsPath, nil, `{"events":[{"t":"bucket-created","b":"bkt","k":"a"}]}`, testSecret, 400},
		{"too many events", "POST", EventsPath, nil, `{"events":[` + strings.Repeat(`{"t":"delete","b":"bkt","k":"a"},`, MaxEvents) + `{"t":"delete","b":"bkt","k":"a"}]}`, testSecret, 400},
		{"body over the limit", "POST", EventsPath, nil, `{"events":[],"resync":false` + strings.Repeat(" ", MaxBody) + `}`, testSecret, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, msg := call(t, n.addr, tc.method, tc.path, tc.query, tc.body, tc.secret)
			if status != tc.want {
				t.Fatalf("status %d (%q), want %d", status, msg, tc.want)
			}
			if status == 401 && msg != "" {
				t.Fatalf("a refused request got a body: %q", msg)
			}
		})
	}
	if got := n.relay.Stats().Received; got != 1 {
		t.Fatalf("the relay ran %d events, want the one good one", got)
	}
}

// Before Start the node does not serve events: 503, not a crash.
func TestHandlerBeforeStart(t *testing.T) {
	r, err := New(Config{Self: "127.0.0.1:1", Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpserver.New(httpserver.Config{Handler: r})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if status, msg := call(t, ln.Addr().String(), "POST", EventsPath, nil, `{"events":[]}`, testSecret); status != 503 {
		t.Fatalf("status %d (%q), want 503", status, msg)
	}
	if _, err := New(Config{Secret: []byte("short")}); err == nil {
		t.Fatal("New accepted a secret of 5 bytes")
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	in := []Event{toWire(put("bkt", "a/b", "x")), {Type: "delete", Bucket: "bkt", Key: "a/b"}}
	var buf bytes.Buffer
	if err := encode(&buf, &Batch{Resync: true, Events: in}); err != nil {
		t.Fatal(err)
	}
	out, resync, err := Decode(&buf)
	if err != nil || !resync || len(out) != 2 || out[0].Info.ETag != "e-x" || out[1].Key != "a/b" {
		t.Fatalf("decoded %+v, %v, %v", out, resync, err)
	}
}

// The types that cross nodes are the ones the decoder takes, and no others.
func TestRelayedTypes(t *testing.T) {
	for typ := objstore.EventType(0); typ <= objstore.EventResync+1; typ++ {
		_, decodes := relayedTypes[typ.String()]
		if relayed(typ) != decodes {
			t.Errorf("%v: relayed %v, decoded %v", typ, relayed(typ), decodes)
		}
	}
}
