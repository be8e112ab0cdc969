package pool

import (
	"testing"

	"github.com/flashstor/flashstor/objstore/erasureset"
)

// lockNames must give the very names the other lock takers use: bucketLock for bucket
// operations, erasureset.LockName for the healer.
func TestLockNamesMatchTheirSources(t *testing.T) {
	for _, c := range []struct{ bucket, key string }{{"bucket", "key"}, {"b.c-d", "a/b/c"}, {"abc", "/"}} {
		b, k := lockNames(c.bucket, c.key)
		if b != bucketLock(c.bucket) || k != erasureset.LockName(c.bucket, c.key) {
			t.Errorf("lockNames(%q, %q) = %q, %q; want %q, %q", c.bucket, c.key, b, k, bucketLock(c.bucket), erasureset.LockName(c.bucket, c.key))
		}
	}
}

// LockSet routes every lock name of a key to the key's set, and a bucket's to none.
func TestLockSet(t *testing.T) {
	p := &Pool{sets: make([]*erasureset.Set, 7), k0: 1, k1: 2}
	for _, key := range []string{"a", "dir/file", "x/y/z", "\u00e9t\u00e9"} {
		want := p.SetIndex(key)
		for _, name := range []string{
			erasureset.LockName("bkt", key),
			erasureset.UploadLockName("bkt", key, "upload-id"),
			erasureset.PartLockName("bkt", key, "upload-id", 3),
		} {
			if set, ok := p.LockSet(name); !ok || set != want {
				t.Errorf("LockSet(%q) = %d, %v; want %d, true", name, set, ok, want)
			}
		}
	}
	if _, ok := p.LockSet(bucketLock("bkt")); ok {
		t.Errorf("a bucket's lock routed to one set")
	}
}
