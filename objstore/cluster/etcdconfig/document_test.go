package etcdconfig_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore/cluster/etcdconfig"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
)

// TestDocument: compare-and-swap on the key's revision, and a value damaged by hand is an
// error naming the key.
func TestDocument(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t)
	const key = "/flashstor/v1/iam/test"
	a, b := etcdconfig.NewDocument(srv.Client(t), key), etcdconfig.NewDocument(srv.Client(t), key)
	r1, err := a.Save(ctx, []byte("one"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Save(ctx, []byte("two"), 0); !errors.Is(err, etcdconfig.ErrRevision) {
		t.Fatalf("Save from a stale revision: %v, want ErrRevision", err)
	}
	if _, err := b.Save(ctx, []byte("two"), r1); err != nil {
		t.Fatal(err)
	}
	if doc, _, err := a.Load(ctx); err != nil || string(doc) != "two" {
		t.Fatalf("Load = %q, %v", doc, err)
	}
	if _, err := srv.Client(t).Put(ctx, key, "{sealed?"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Load(ctx); err == nil || !strings.Contains(err.Error(), key) {
		t.Fatalf("Load of a damaged value: %v, want an error naming %s", err, key)
	}
}
