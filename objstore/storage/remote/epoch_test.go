package remote_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/fence"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// A call's epochs cross the wire (argument epoch) to the fenced drive behind the
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
	srv := httptest.NewServer(httpserver.NetHTTP(h))
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

// The epoch argument is covered by the node token: changed in transit, the call is refused;
// given twice, it is a bad request.
func TestEpochArgumentIsSigned(t *testing.T) {
	url := serve(t)
	for _, tc := range []struct {
		name         string
		signed, sent string
		want         int
	}{
		{"changed", "vol=bkt&epoch=0%3D10", "vol=bkt&epoch=0%3D1", http.StatusUnauthorized},
		{"stripped", "vol=bkt&epoch=0%3D10", "vol=bkt", http.StatusUnauthorized},
		{"twice", "vol=bkt&epoch=0%3D10&epoch=0%3D11", "vol=bkt&epoch=0%3D10&epoch=0%3D11", http.StatusBadRequest},
		{"malformed", "vol=bkt&epoch=0%3D", "vol=bkt&epoch=0%3D", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, url+remote.Prefix+"d1/makevolume?"+tc.signed, nil)
			if err != nil {
				t.Fatal(err)
			}
			remote.SignRequest(req, secret)
			req.URL.RawQuery = tc.sent
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
}
