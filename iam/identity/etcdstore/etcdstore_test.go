package etcdstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

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

// openWatched opens a Manager over the shared document, reloaded by the store's watch
// until the test ends.
func openWatched(t *testing.T, srv *etcdtest.Server) *identity.Manager {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store := etcdstore.New(srv.Client(t), "iam")
	m, err := identity.Open(ctx, identity.Config{Store: store, RootSecret: "root-secret"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		store.Doc.Watch(ctx, func() {
			if err := m.Reload(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("Reload: %v", err)
			}
		}, etcdconfig.WatchConfig{})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return m
}

// TestIdentitiesAcrossNodes: two Managers (two nodes) on one etcd; a user, a key and a
// policy made on A are enforced by B's decision point, and the policy's removal too.
func TestIdentitiesAcrossNodes(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t)
	a, b := openWatched(t, srv), openWatched(t, srv)
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
