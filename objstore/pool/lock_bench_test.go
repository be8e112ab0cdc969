package pool

import (
	"context"
	"testing"

	"github.com/flashstor/flashstor/objstore/nslock"
)

// BenchmarkLockKey is the uncontended lock path every object operation takes on one node:
// the bucket's read lock and the key's write lock, through the pool's Locker (an
// nslock.Map), then their release.
//
//	go test -run '^$' -bench LockKey -benchmem -count 6 ./objstore/pool/
func BenchmarkLockKey(b *testing.B) {
	p := &Pool{locks: &nslock.Map{}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, unlock, err := p.lockKey(ctx, "bench", "some/key", true)
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}
