//go:build arenadebug

package httpserver

import (
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/flashstor/flashstor/internal/arena"
)

// TestArenaLeakReported proves that, built with -tags arenadebug, a handler that keeps
// arena memory past the end of its request is reported with the allocating function.
func TestArenaLeakReported(t *testing.T) {
	var mu sync.Mutex
	var leaks []string
	var kept [][]byte
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		b := leakyHandlerAlloc(r)
		if string(r.Path) == "/leak" {
			mu.Lock()
			kept = append(kept, b) // the bug under test: a view outlives its request
			mu.Unlock()
		}
		w.Write([]byte("ok"))
	})
	s, addr := startEpoll(t, h, func(c *Config) {
		c.OnArenaLeak = func(l arena.Leak) {
			mu.Lock()
			leaks = append(leaks, l.Caller)
			mu.Unlock()
		}
	})
	c := newClient(t)
	for _, path := range []string{"/fine", "/leak", "/fine"} {
		if resp, _ := doRequest(t, c, "GET", "http://"+addr+path, nil, 0); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
	}
	c.CloseIdleConnections()
	if !waitFor(5e9, func() bool { return s.stats.Open.Load() == 0 }) {
		t.Fatal("connection not closed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaks) != 1 || !strings.Contains(leaks[0], "leakyHandlerAlloc") {
		t.Fatalf("leaks reported: %q, want one from leakyHandlerAlloc", leaks)
	}
	runtime.KeepAlive(kept)
}

//go:noinline
func leakyHandlerAlloc(r *Request) []byte { return r.Arena.Alloc(64) }
