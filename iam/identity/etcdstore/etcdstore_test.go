package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/flashstor/flashstor/iam/authz"
	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/identity/etcdstore"
	"github.com/flashstor/flashstor/iam/identity/identitytest"
	"github.com/flashstor/flashstor/iam/policy"
	"github.com/flashstor/flashstor/objstore/cluster/etcdconfig"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
)

// TestIdentitiesConformance runs the identity store suite on one real etcd; each store
// is a document of its own, and the reopen is a second client, as another process.
func TestIdentitiesConformance(t *testing.T) {
	srv := etcdtest.Start(t)
	var n atomic.Int64
	identitytest.Run(t, func(t *testing.T) (identity.Store, func() identity.Store) {
		name := fmt.Sprintf("iam-%d", n.Add(1))
		return etcdstore.New(srv.Client(t), name), func() identity.Store {
			return etcdstore.New(srv.Client(t), name)
		}
	})
}

// openWatched opens a Manager over the shared document through endpoints, reloaded by
// the store's watch (configured by wc) until the test ends. A failed reload fails the
// test when strict.
func openWatched(t *testing.T, endpoints []string, wc etcdconfig.WatchConfig, strict bool) *identity.Manager {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	store := etcdstore.New(c, "iam")
	store.Doc.Timeout = time.Second
	m, err := identity.Open(ctx, identity.Config{Store: store, RootSecret: "root-secret"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		store.Doc.Watch(ctx, func() {
			if err := m.Reload(ctx); err != nil && ctx.Err() == nil && strict {
				t.Errorf("Reload: %v", err)
			}
		}, wc)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return m
}

// TestIdentitiesAcrossNodes: two Managers (two nodes) on one etcd; a user, a key and a
// policy made on A are enforced by B's decision point, and the policy's removal too.
func TestIdentitiesAcrossNodes(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t)
	a, b := openWatched(t, srv.Endpoints, etcdconfig.WatchConfig{}, true), openWatched(t, srv.Endpoints, etcdconfig.WatchConfig{}, true)
	az := authz.New(authz.Config{Root: map[string]string{"ROOTKEY": "rootsecret"}, Identities: b})

	if _, err := a.CreateUser(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	key, err := a.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "alice's key on B", func() bool {
		secret, ok := az.Lookup([]byte(key.ID))
		return ok && secret == key.Secret
	})
	decide := func() policy.Decision {
		c, err := az.Resolve([]byte(key.ID), nil)
		if err != nil {
			t.Fatal(err)
		}
		return az.Decide(ctx, c, &authz.Query{Action: "s3:GetObject", Bucket: "photos", Key: "k", ObjectLevel: true})
	}
	if d := decide(); d == policy.Allowed {
		t.Fatal("allowed before any policy")
	}
	const read = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}`
	if err := a.PutUserPolicy(ctx, "alice", "read", read); err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "the policy put on A allows on B", func() bool { return decide() == policy.Allowed })
	if err := a.DeleteUserPolicy(ctx, "alice", "read"); err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "the policy deleted on A no longer allows on B", func() bool { return decide() != policy.Allowed })

	// B writes from what it has seen: its change keeps A's user.
	if _, err := b.CreateUser(ctx, "bob", ""); err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "bob on A", func() bool { _, err := a.GetUser("bob"); return err == nil })
	if _, err := b.GetUser("alice"); err != nil {
		t.Fatalf("B lost alice: %v", err)
	}
}

// TestIdentitiesCutOff: a node cut from etcd stops honouring the keys it knew once its
// watch hears nothing (a key revoked on another node meanwhile must not keep working),
// and takes the identities back, with the changes made meanwhile, when etcd is back.
func TestIdentitiesCutOff(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t)
	px := srv.Proxy(t)
	a := openWatched(t, srv.Endpoints, etcdconfig.WatchConfig{}, true)
	b := openWatched(t, px.Endpoints, etcdconfig.WatchConfig{Heartbeat: 200 * time.Millisecond, Retry: 50 * time.Millisecond}, false)
	az := authz.New(authz.Config{Root: map[string]string{"ROOTKEY": "rootsecret"}, Identities: b})
	known := func(id string) bool { _, ok := az.Lookup([]byte(id)); return ok }
	if _, err := a.CreateUser(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	alice, err := a.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "alice's key on B", func() bool { return known(alice.ID) })

	px.Cut(true)
	if err := a.DeleteAccessKey(ctx, "alice", alice.ID); err != nil {
		t.Fatal(err)
	}
	bob, err := a.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "B, cut off, no longer honours the revoked key", func() bool { return !known(alice.ID) })
	if _, ok := az.Lookup([]byte("ROOTKEY")); !ok {
		t.Fatal("the root key stopped working on B")
	}
	if _, err := b.CreateUser(ctx, "carol", ""); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("a change on B while cut off: %v, want ErrUnavailable", err)
	}
	px.Cut(false)
	etcdtest.Eventually(t, "B back, with the key made during the cut", func() bool { return known(bob.ID) })
	if known(alice.ID) {
		t.Fatal("the revoked key came back")
	}
}
