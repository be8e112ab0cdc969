package identity_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/iam/identity"
)

// flaky is a Store whose Load fails until ok is set.
type flaky struct {
	identity.Memory
	ok atomic.Bool
}

var errQuorum = errors.New("read quorum not reached")

func (f *flaky) Load(ctx context.Context) ([]byte, uint64, error) {
	if !f.ok.Load() {
		return nil, 0, errQuorum
	}
	return f.Memory.Load(ctx)
}

// TestUnreadableStore: a store that cannot be read at start leaves the Manager
// unavailable (nothing written over it, changes refused), then loaded once it reads.
func TestUnreadableStore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &flaky{}
	f.ok.Store(true)
	m, err := identity.Open(ctx, identity.Config{Store: f, RootSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateUser(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	k, err := m.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	f.ok.Store(false)
	if _, err := identity.Open(ctx, identity.Config{Store: f, RootSecret: "s"}); !errors.Is(err, errQuorum) {
		t.Fatalf("Open without RetryEvery: %v", err)
	}
	var reported atomic.Int32
	m2, err := identity.Open(ctx, identity.Config{Store: f, RootSecret: "s", RetryEvery: 5 * time.Millisecond,
		OnError: func(error) { reported.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.CreateUser(ctx, "bob", ""); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("CreateUser while unreadable: %v", err)
	}
	if _, _, ok := m2.Snapshot().Lookup([]byte(k.ID)); ok {
		t.Fatal("a key resolves before the identities were read")
	}
	f.ok.Store(true)
	for i := 0; ; i++ {
		if _, _, ok := m2.Snapshot().Lookup([]byte(k.ID)); ok {
			break
		}
		if i == 500 {
			t.Fatal("the identities were not loaded within 5 s of the store reading again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if reported.Load() == 0 {
		t.Fatal("the failed loads were not reported")
	}
	if _, err := m2.CreateUser(ctx, "bob", ""); err != nil {
		t.Fatalf("CreateUser once loaded: %v", err)
	}
	if users := m2.ListUsers("/"); len(users) != 2 {
		t.Fatalf("%d users, want alice and bob", len(users))
	}
}
