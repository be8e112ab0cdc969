package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
)

// TestBucketConfig stores, replaces and removes bucket configuration documents on one set
// of 1 and 4 drives and on two sets, across a reopen, with a drive's copy lost, and checks
// that deleting a bucket deletes them, even from where a new bucket of that name is made.
func TestBucketConfig(t *testing.T) {
	for _, n := range []int{1, 4, 20} {
		t.Run(fmt.Sprintf("%d drives", n), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			drives := []string{filepath.Join(dir, fmt.Sprintf("d{1...%d}", n))}
			open := func() *deploy.Deployment {
				d, err := deploy.Open(ctx, deploy.Config{Drives: drives, Parity: -1})
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			d := open()
			defer func() { d.Close() }()
			var store objstore.BucketConfigStore = d
			if _, err := store.BucketConfig(ctx, "none"); !errors.Is(err, objstore.ErrBucketNotFound) {
				t.Fatalf("BucketConfig of a missing bucket: %v", err)
			}
			if err := store.SetBucketConfig(ctx, "none", "tagging", "x"); !errors.Is(err, objstore.ErrBucketNotFound) {
				t.Fatalf("SetBucketConfig of a missing bucket: %v", err)
			}
			must(t, d.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}))
			want := map[string]string{}
			check := func(when string) {
				t.Helper()
				got, err := store.BucketConfig(ctx, "bkt")
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s: got %v, want %v", when, got, want)
				}
			}
			check("new bucket")
			for _, step := range []struct{ name, doc string }{
				{objstore.BucketConfigVersioning, "<V>Suspended</V>"},
				{objstore.BucketConfigTagging, "<Tagging>1</Tagging>"},
				{objstore.BucketConfigTagging, "<Tagging>2</Tagging>"},
				{objstore.BucketConfigCORS, "<CORS/>"},
				{objstore.BucketConfigCORS, ""},
			} {
				must(t, store.SetBucketConfig(ctx, "bkt", step.name, step.doc))
				if step.doc == "" {
					delete(want, step.name)
				} else {
					want[step.name] = step.doc
				}
				check("after setting " + step.name)
			}
			d.Close()
			d = open()
			store = d
			check("after reopening")
			if n > 1 {
				must(t, os.Remove(filepath.Join(dir, "d1", storage.SysVolume, "buckets", "bkt", "config")))
				check("with the first drive's copy lost")
			}
			must(t, d.DeleteBucket(ctx, "bkt"))
			if _, err := store.BucketConfig(ctx, "bkt"); !errors.Is(err, objstore.ErrBucketNotFound) {
				t.Fatalf("BucketConfig of a deleted bucket: %v", err)
			}
			// A record left behind (by a drive offline at the delete) must not come back
			// with a new bucket of the same name.
			must(t, d.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}))
			must(t, store.SetBucketConfig(ctx, "bkt", "tagging", "old"))
			var kept [][]byte
			for i := 1; i <= n; i++ {
				b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("d%d", i), storage.SysVolume, "buckets", "bkt", "config"))
				if err == nil {
					kept = append(kept, b)
				}
			}
			if len(kept) == 0 {
				t.Fatal("no drive holds the record where the test expects it")
			}
			must(t, d.DeleteBucket(ctx, "bkt"))
			for i := 1; i <= n; i++ {
				p := filepath.Join(dir, fmt.Sprintf("d%d", i), storage.SysVolume, "buckets", "bkt", "config")
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("drive %d still holds the record after DeleteBucket: %v", i, err)
				}
				must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				must(t, os.WriteFile(p, kept[0], 0o644))
			}
			must(t, d.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}))
			want = map[string]string{}
			check("a new bucket where an old record was left")
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
