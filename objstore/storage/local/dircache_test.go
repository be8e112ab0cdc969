package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// TestDirCacheSeesChanges walks a large directory whose listing is cached, then changes it:
// every walk after a change must see the change.
func TestDirCacheSeesChanges(t *testing.T) {
	d, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := context.Background()
	if err := d.MakeVolume(c, "cache"); err != nil {
		t.Fatal(err)
	}
	m := (&meta.Object{Erasure: meta.Erasure{DataShards: 1, BlockSize: 1, Distribution: []uint8{0}}, Inline: true}).Marshal()
	const n = cacheMinEntries + 10
	for i := 0; i < n; i++ {
		if err := d.CommitObject(c, "cache", fmt.Sprintf("big/k%04d", i), m, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(d.root, "cache", "big")
	settle := func() { // as if the last change were long ago, so the listing is cached
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		keys := 0
		if err := d.Walk(c, "cache", storage.WalkOptions{Prefix: "big/", Recursive: true}, func(storage.Entry) error { keys++; return nil }); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	settle()
	if got := count(); got != n {
		t.Fatalf("walk found %d keys, want %d", got, n)
	}
	if d.cache.items == 0 {
		t.Fatal("a settled large directory was not cached")
	}
	if err := d.CommitObject(c, "cache", "big/new", m, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != n+1 {
		t.Fatalf("after a put, walk found %d keys, want %d", got, n+1)
	}
	settle()
	count()
	if err := d.DeleteObject(c, "cache", "big/k0000"); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != n {
		t.Fatalf("after a delete, walk found %d keys, want %d", got, n)
	}
	settle()
	count()
	if err := d.RenameObject(c, "cache", "big/k0001", "elsewhere/k0001"); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != n-1 {
		t.Fatalf("after a rename out, walk found %d keys, want %d", got, n-1)
	}
	// Pages: StartAfter deep in the cached directory.
	settle()
	var first string
	d.Walk(c, "cache", storage.WalkOptions{Prefix: "big/", Recursive: true, StartAfter: "big/k0300"}, func(e storage.Entry) error {
		first = e.Key
		return errStop
	})
	if first != "big/k0301" {
		t.Fatalf("page after big/k0300 starts at %q", first)
	}
}

var errStop = fmt.Errorf("stop")
