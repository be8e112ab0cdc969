package lincheck_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/lincheck"
)

// memStore is an in-memory Store, correct unless told to misbehave.
type memStore struct {
	mu sync.Mutex
	// objects and previous hold, by key, the current body and the one it replaced.
	// GUARDED_BY(mu).
	objects, previous map[string][]byte
	// reads and puts count the Gets and the Puts that took effect. GUARDED_BY(mu).
	reads, puts int

	// stale makes every other Get return the body the current one replaced.
	stale bool
	// torn flips a byte of every body read.
	torn bool
	// unanswered makes every other put that took effect report that it got no answer.
	unanswered bool
}

func newMemStore() *memStore {
	return &memStore{objects: map[string][]byte{}, previous: map[string][]byte{}}
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func (m *memStore) Put(ctx context.Context, key string, body io.Reader, size int64, cond lincheck.Cond, etag string) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.objects[key]
	switch {
	case cond == lincheck.IfAbsent && ok:
		return objstore.ErrPreconditionFailed
	case cond == lincheck.IfMatch && !ok:
		return objstore.ErrObjectNotFound
	case cond == lincheck.IfMatch && md5hex(cur) != etag:
		return objstore.ErrPreconditionFailed
	}
	m.previous[key], m.objects[key] = cur, b
	m.puts++
	if m.unanswered && m.puts%2 == 0 {
		return fmt.Errorf("connection reset: %w", lincheck.ErrNoAnswer)
	}
	return nil
}

func (m *memStore) Get(ctx context.Context, key string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	b, ok := m.objects[key]
	if m.stale && m.reads%2 == 0 && m.previous[key] != nil {
		b, ok = m.previous[key], true
	}
	if !ok {
		return nil, "", objstore.ErrObjectNotFound
	}
	etag := md5hex(b)
	if m.torn {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 1
	}
	return b, etag, nil
}

func (m *memStore) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.previous[key] = m.objects[key]
	delete(m.objects, key)
	return nil
}

// memConfig is a quick workload for memStore: small bodies, some slow, some abandoned.
func memConfig() lincheck.Config {
	return lincheck.Config{
		Clients:      4,
		Keys:         []string{"a", "b"},
		OpsPerClient: 150,
		Duration:     20 * time.Second,
		Sizes:        []lincheck.SizeClass{{Weight: 1, Min: lincheck.HeaderSize, Max: 4 << 10}},
		SlowShare:    0.1,
		Pause:        time.Millisecond,
		AbandonShare: 0.05,
		AbandonAfter: time.Millisecond,
	}
}

// TestWorkload runs the workload on stores right and wrong: a correct one passes, one that
// answers reads from a stale copy is found not linearizable, one that tears bodies fails
// the run, and writes that got no answer are recorded as ambiguous without failing it.
func TestWorkload(t *testing.T) {
	cases := []struct {
		name       string
		store      func(*memStore)
		result     porcupine.CheckResult
		failed     string // what a failure of the run says, "" if it must not fail
		noAnswered bool
	}{
		{"correct", func(*memStore) {}, porcupine.Ok, "", false},
		{"stale reads", func(m *memStore) { m.stale = true }, porcupine.Illegal, "not linearizable", false},
		{"torn reads", func(m *memStore) { m.torn = true }, "", "not whole", false},
		{"writes without an answer", func(m *memStore) { m.unanswered = true }, porcupine.Ok, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemStore()
			tc.store(m)
			cfg := memConfig()
			res := lincheck.Run(t.Context(), cfg, func(int) lincheck.Store { return m })
			r := &reporter{t: t}
			s := res.Check(r, time.Minute, cfg.Need()...)
			if tc.result != "" && s.Result != tc.result {
				t.Errorf("check says %s, want %s", s.Result, tc.result)
			}
			failures := strings.Join(r.errs, "\n")
			if tc.failed == "" && failures != "" || !strings.Contains(failures, tc.failed) {
				t.Errorf("run failed with %q, want a failure saying %q", failures, tc.failed)
			}
			if got := len(res.NoAnswer) > 0; got != tc.noAnswered {
				t.Errorf("operations without an answer: %d", len(res.NoAnswer))
			}
			if tc.noAnswered && s.Ambiguous < len(res.NoAnswer) {
				t.Errorf("%d operations got no answer, only %d are ambiguous in the history", len(res.NoAnswer), s.Ambiguous)
			}
		})
	}
}
