package audit

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webhookServer is an httptest server on 127.0.0.1 that answers each POST with the next
// status of script (the last one repeats) and keeps the bodies it answered 2xx to.
type webhookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies bytes.Buffer
	calls  atomic.Int32
	auth   atomic.Value // last Authorization header
}

func newWebhookServer(t *testing.T, script ...int) *webhookServer {
	ws := &webhookServer{}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(ws.calls.Add(1))
		status := script[min(n, len(script))-1]
		body, _ := io.ReadAll(r.Body)
		ws.auth.Store(r.Header.Get("Authorization"))
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-ndjson" {
			status = http.StatusBadRequest
		}
		if status/100 == 2 {
			ws.mu.Lock()
			ws.bodies.Write(body)
			ws.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(ws.Close)
	return ws
}

func (ws *webhookServer) received() []byte {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return bytes.Clone(ws.bodies.Bytes())
}

func TestWebhookDelivers(t *testing.T) {
	tests := []struct {
		name        string
		script      []int
		wantCalls   int32
		wantWritten bool
	}{
		{"ok", []int{200}, 1, true},
		{"retried 5xx then ok", []int{503, 500, 204}, 3, true},
		{"retried 429 then ok", []int{429, 200}, 2, true},
		{"always 5xx gives up after the attempts", []int{500}, 3, false},
		{"4xx is final", []int{403}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := newWebhookServer(t, tt.script...)
			sink, err := NewWebhook(WebhookConfig{URL: ws.URL, AuthToken: "tok", Attempts: 3, Backoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var batch []byte
			for i := 0; i < 50; i++ {
				r := recordFor(i)
				batch = AppendJSON(batch, &r)
			}
			err = sink.WriteBatch(batch)
			st := sink.Stats()
			if got := ws.calls.Load(); got != tt.wantCalls || st.Posts != uint64(got) {
				t.Fatalf("%d calls (sink counted %d), want %d", got, st.Posts, tt.wantCalls)
			}
			if st.Retries != uint64(tt.wantCalls-1) {
				t.Fatalf("Retries = %d, want %d", st.Retries, tt.wantCalls-1)
			}
			if got := ws.auth.Load(); got != "Bearer tok" {
				t.Fatalf("Authorization %q", got)
			}
			if !tt.wantWritten {
				if err == nil || st.Failures != 1 {
					t.Fatalf("WriteBatch = %v, %d failures; want an error and 1 failure", err, st.Failures)
				}
				return
			}
			if err != nil || st.Failures != 0 || !bytes.Equal(ws.received(), batch) {
				t.Fatalf("WriteBatch = %v, %d failures, received %d of %d bytes", err, st.Failures, len(ws.received()), len(batch))
			}
		})
	}
}

// TestWebhookLog runs the log into a webhook that fails now and then: every record
// arrives once, intact and in order, and the batches given up are counted as failed.
func TestWebhookLog(t *testing.T) {
	for _, tt := range []struct {
		name   string
		script []int
	}{{"healthy", []int{200}}, {"failing", []int{500}}} {
		t.Run(tt.name, func(t *testing.T) {
			ws := newWebhookServer(t, tt.script...)
			sink, err := NewWebhook(WebhookConfig{URL: ws.URL, Attempts: 2, Backoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			l := newLog(t, Config{Sink: sink, FlushBytes: 4 << 10})
			p := l.Producer()
			const n = 500
			for i := 0; i < n; i++ {
				r := recordFor(i)
				emitRetrying(t, p.Emit, &r)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			recs := decodeLines(t, ws.received())
			for i, r := range recs {
				if id := checkIntact(t, r); id != i {
					t.Fatalf("record %d is id %d", i, id)
				}
			}
			if st.Accepted != n || st.Written+st.Failed != n || st.Written != uint64(len(recs)) {
				t.Fatalf("stats %+v, %d received; want %d accepted, all written or failed", st, len(recs), n)
			}
			if tt.script[0] == 500 && (st.Failed != n || sink.Stats().Failures != st.SinkErrors || st.SinkErrors == 0) {
				t.Fatalf("stats %+v, sink %+v: want every record failed and counted", st, sink.Stats())
			}
		})
	}
}

// TestWebhookUnreachable checks that a dead endpoint costs a bounded number of attempts
// and is counted.
func TestWebhookUnreachable(t *testing.T) {
	ws := newWebhookServer(t, 200)
	url := ws.URL
	ws.Close() // nothing listens there any more
	sink, err := NewWebhook(WebhookConfig{URL: url, Attempts: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.WriteBatch([]byte("{}\n")); err == nil {
		t.Fatal("WriteBatch to a closed port succeeded")
	}
	if st := sink.Stats(); st.Posts != 2 || st.Failures != 1 {
		t.Fatalf("stats %+v, want 2 posts and 1 failure", st)
	}
}

// TestWebhookCloseStopsRetries checks that Close ends a long retry wait at once.
func TestWebhookCloseStopsRetries(t *testing.T) {
	ws := newWebhookServer(t, 500)
	sink, err := NewWebhook(WebhookConfig{URL: ws.URL, Attempts: 5, Backoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sink.WriteBatch([]byte("{}\n")) }()
	waitFor(t, func() bool { return ws.calls.Load() == 1 })
	sink.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("WriteBatch succeeded against a 500")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WriteBatch still waiting 10s after Close")
	}
}

func TestNewWebhookRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "://nope"} {
		if _, err := NewWebhook(WebhookConfig{URL: u}); err == nil {
			t.Errorf("NewWebhook(%q) succeeded", u)
		}
	}
}
