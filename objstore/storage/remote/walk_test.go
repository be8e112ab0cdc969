package remote_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
)

func TestWalkStopsAndFails(t *testing.T) {
	c := client(t, serve(t), "d1", secret)
	ctx := context.Background()
	stop := errors.New("enough")
	err := c.Walk(ctx, "nobucket", storage.WalkOptions{Recursive: true}, func(storage.Entry) error { return nil })
	if !errors.Is(err, storage.ErrVolumeNotFound) {
		t.Fatalf("Walk of a missing bucket: %v, want ErrVolumeNotFound", err)
	}
	if err := c.MakeVolume(ctx, "bucket"); err != nil {
		t.Fatal(err)
	}
	// Metadata the drive cannot decode: each entry carries the drive's MetaErr across.
	for i := range 50 {
		if err := c.CommitObject(ctx, "bucket", "k"+strconv.Itoa(100+i), []byte("not metadata"), "", ""); err != nil {
			t.Fatalf("CommitObject: %v", err)
		}
	}
	seen := 0
	err = c.Walk(ctx, "bucket", storage.WalkOptions{Recursive: true, WithMeta: true}, func(e storage.Entry) error {
		seen++
		if !errors.Is(e.MetaErr, storage.ErrFileCorrupt) {
			t.Errorf("entry %q: MetaErr %v, want the drive's ErrFileCorrupt across the wire", e.Key, e.MetaErr)
		}
		if e.Key != "k"+strconv.Itoa(99+seen) {
			t.Errorf("entry %d is %q", seen, e.Key)
		}
		if seen == 3 {
			return stop
		}
		return nil
	})
	if seen != 3 || !errors.Is(err, stop) {
		t.Fatalf("Walk whose callback stops: %d entries, %v; want 3 and the callback's error", seen, err)
	}
	// The connection the stopped walk used does not poison the next calls.
	if _, err := c.ListVolumes(ctx); err != nil {
		t.Fatalf("ListVolumes after a stopped walk: %v", err)
	}
}
