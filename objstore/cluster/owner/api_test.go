package owner

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// A lock of a set another node owns is granted over one round trip, under that node's
// epoch, excludes the owner's own requests while held, and is free once released.
func TestLockRoundTrip(t *testing.T) {
	c := newCluster(t, "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	e := waitOwner(t, a, 0)
	waitOwner(t, b, 1)
	name := erasureset.LockName("bkt", keyIn(t, a.pool, 0, "k"))
	ctx, unlock, err := b.Locker().Grant(context.Background(), []string{name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := storage.EpochOf(ctx, 0); !ok || got != e {
		t.Fatalf("remote grant under epoch %d (%v), want the owner's %d", got, ok, e)
	}
	if a.Grants() != 1 {
		t.Fatalf("owner holds %d remote grants, want 1", a.Grants())
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := a.Locker().Grant(short, []string{name}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the owner's own request for a lock held remotely: %v, want to wait until its deadline", err)
	}
	unlock()
	if a.Grants() != 0 {
		t.Fatalf("owner holds %d remote grants after the release", a.Grants())
	}
	_, unlock, err = a.Locker().Grant(context.Background(), []string{name}, nil)
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	unlock()
}

// A holder that vanishes without releasing (its node died: no refresh, no release) loses
// its grant after the TTL, and the lock is free again.
func TestDeadHolderReleasedAfterTTL(t *testing.T) {
	c := newCluster(t, "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	waitOwner(t, a, 0)
	name := erasureset.LockName("bkt", keyIn(t, a.pool, 0, "k"))
	// b's request, made without the holder that refreshes and releases it.
	if _, err := b.acquireRemote(context.Background(), a.cfg.URL, 0, []string{name}, nil); err != nil {
		t.Fatal(err)
	}
	if a.Grants() != 1 {
		t.Fatalf("owner holds %d grants, want 1", a.Grants())
	}
	// LockTTL is 1s: give it 10.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, unlock, err := a.Locker().Grant(ctx, []string{name}, nil)
	if err != nil {
		t.Fatalf("the dead holder's lock was not released after its TTL: %v", err)
	}
	unlock()
	if a.Grants() != 0 {
		t.Fatalf("owner still holds %d grants", a.Grants())
	}
}

// A holder that stays alive keeps its grant past the TTL by refreshing it.
func TestLiveHolderKeepsItsGrant(t *testing.T) {
	c := newCluster(t, "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	waitOwner(t, a, 0)
	name := erasureset.LockName("bkt", keyIn(t, a.pool, 0, "k"))
	_, unlock, err := b.Locker().Grant(context.Background(), []string{name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	// Three TTLs (1s each) later the lock is still held: the owner's request waits.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, _, err := a.Locker().Grant(ctx, []string{name}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a refreshed grant was taken away: %v", err)
	}
}

// Bad requests get 400 or 401, never a grant.
func TestLockAPIRefusesBadRequests(t *testing.T) {
	c := newCluster(t, "a")
	a := c.nodes[0]
	waitOwner(t, a, 0)
	long := strings.Repeat("x", MaxNameLen+1)
	many := url.Values{"set": {"0"}, "ttl": {"1000"}}
	for range MaxNames + 1 {
		many.Add("w", "n")
	}
	for _, tc := range []struct {
		name   string
		op     string
		q      url.Values
		secret []byte
		want   int
	}{
		{"unsigned", "acquire", url.Values{"set": {"0"}, "ttl": {"1000"}, "w": {"n"}}, nil, http.StatusUnauthorized},
		{"wrong secret", "acquire", url.Values{"set": {"0"}, "ttl": {"1000"}, "w": {"n"}}, []byte("another-secret-of-the-cluster-xx"), http.StatusUnauthorized},
		{"set out of range", "acquire", url.Values{"set": {"2"}, "ttl": {"1000"}, "w": {"n"}}, testSecret, http.StatusBadRequest},
		{"negative set", "acquire", url.Values{"set": {"-1"}, "ttl": {"1000"}, "w": {"n"}}, testSecret, http.StatusBadRequest},
		{"ttl too short", "acquire", url.Values{"set": {"0"}, "ttl": {"999"}, "w": {"n"}}, testSecret, http.StatusBadRequest},
		{"ttl too long", "acquire", url.Values{"set": {"0"}, "ttl": {"600001"}, "w": {"n"}}, testSecret, http.StatusBadRequest},
		{"no name", "acquire", url.Values{"set": {"0"}, "ttl": {"1000"}}, testSecret, http.StatusBadRequest},
		{"empty name", "acquire", url.Values{"set": {"0"}, "ttl": {"1000"}, "r": {""}}, testSecret, http.StatusBadRequest},
		{"long name", "acquire", url.Values{"set": {"0"}, "ttl": {"1000"}, "w": {long}}, testSecret, http.StatusBadRequest},
		{"too many names", "acquire", many, testSecret, http.StatusBadRequest},
		{"unknown op", "steal", url.Values{}, testSecret, http.StatusNotFound},
		{"refresh of nothing", "refresh", url.Values{"id": {"00"}}, testSecret, http.StatusNotFound},
		{"not the owner", "acquire", url.Values{"set": {"1"}, "ttl": {"1000"}, "w": {"n"}}, testSecret, http.StatusConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "not the owner" {
				// With one node, a owns both sets: take set 1 from it.
				a.mu.Lock()
				saved := a.terms[1]
				delete(a.terms, 1)
				a.mu.Unlock()
				defer func() {
					a.mu.Lock()
					a.terms[1] = saved
					a.mu.Unlock()
				}()
			}
			req, _ := http.NewRequest(http.MethodPost, a.cfg.URL+APIPrefix+tc.op+"?"+tc.q.Encode(), nil)
			if tc.secret != nil {
				remote.SignRequest(req, tc.secret)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if a.Grants() != 0 {
		t.Fatalf("%d grants after bad requests", a.Grants())
	}
}

// FuzzParseAcquire decodes arbitrary acquire queries: what it accepts is within the limits.
func FuzzParseAcquire(f *testing.F) {
	f.Add("set=0&ttl=1000&w=a%2Fb&r=%00bucket%2Fa")
	f.Add("set=1&ttl=600000&r=x")
	f.Add("set=01&ttl=1e3&w=")
	f.Add("set=0&ttl=9223372036854775807&w=a")
	f.Add("set=0&ttl=18446744078709&w=a") // ms whose nanoseconds wrap around into range
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := parseAcquire(q, 2)
		if err != nil {
			return
		}
		if req.set < 0 || req.set >= 2 || req.ttl < MinLockTTL || req.ttl > MaxLockTTL {
			t.Fatalf("accepted set %d ttl %v", req.set, req.ttl)
		}
		if ms, _ := strconv.ParseInt(q.Get("ttl"), 10, 64); ms > MaxLockTTL.Milliseconds() {
			t.Fatalf("accepted ttl %d ms as %v", ms, req.ttl)
		}
		if n := len(req.writes) + len(req.reads); n == 0 || n > MaxNames {
			t.Fatalf("accepted %d names", n)
		}
		for _, names := range [][]string{req.writes, req.reads} {
			for _, name := range names {
				if name == "" || len(name) > MaxNameLen {
					t.Fatalf("accepted name of %d bytes", len(name))
				}
			}
		}
	})
}
