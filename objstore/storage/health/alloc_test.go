//go:build !race

// The race detector makes sync.Pool drop items at random, so allocations are counted
// without it.

package health_test

import (
	"context"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/health"
)

// The calls a GET makes cost no allocation beyond the wrapped drive's own once the
// drive's workers and call records are warm.
func TestHotCallsAddNoAllocations(t *testing.T) {
	inner := newLocal(t)
	ctx := context.Background()
	if err := inner.MakeVolume(ctx, "bucket"); err != nil {
		t.Fatal(err)
	}
	d := health.Wrap(inner, health.Options{})
	t.Cleanup(d.Close)
	data := make([]byte, 4096)
	if err := inner.WriteFile(ctx, "bucket", "part.1", data); err != nil {
		t.Fatal(err)
	}
	f, err := d.OpenFile(ctx, "bucket", "part.1")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	innerF, err := inner.OpenFile(ctx, "bucket", "part.1")
	if err != nil {
		t.Fatal(err)
	}
	defer innerF.Close()
	buf := make([]byte, 4096)
	readAt := func(f storage.File) {
		if _, err := f.ReadAt(buf, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []struct {
		name           string
		direct, health func()
	}{
		{"ReadMeta", func() { inner.ReadMeta(ctx, "bucket", "key") }, func() { d.ReadMeta(ctx, "bucket", "key") }},
		{"ReadAt", func() { readAt(innerF) }, func() { readAt(f) }},
	} {
		base := testing.AllocsPerRun(200, o.direct)
		wrapped := testing.AllocsPerRun(200, o.health)
		if wrapped > base {
			t.Errorf("%s: %v allocations through the health wrapper, %v without", o.name, wrapped, base)
		}
	}
}
