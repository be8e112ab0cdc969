package remote_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/fence"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// A call's epochs cross the wire (X-Flashstor-Epoch) to the fenced drive behind the
// handler, and its refusal comes back as ErrStaleEpoch.
func TestEpochCrossesTheWire(t *testing.T) {
	d, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fenced := fence.Wrap(d, 2)
	h, err := remote.NewHandler(secret, map[string]storage.Drive{"d1": fenced}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := client(t, srv.URL, "d1", secret)
	at := func(e uint64) context.Context {
		return storage.WithEpochs(context.Background(), storage.Epoch{Set: 1, Epoch: 1}, storage.Epoch{Set: 2, Epoch: e})
	}
	if err := c.MakeVolume(at(10), "bkt"); err != nil {
		t.Fatal(err)
	}
	if n, err := fenced.Newest(context.Background()); err != nil || n != 10 {
		t.Fatalf("newest %d, %v after a call under epoch 10", n, err)
	}
	if err := c.CommitObject(at(9), "bkt", "k", []byte("m"), "", ""); !errors.Is(err, storage.ErrStaleEpoch) {
		t.Fatalf("commit under epoch 9: %v, want ErrStaleEpoch", err)
	}
	if _, err := c.ReadMeta(context.Background(), "bkt", "k"); !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatalf("the refused commit left something: %v", err)
	}
}
