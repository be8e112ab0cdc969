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
