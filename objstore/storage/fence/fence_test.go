package fence_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/fence"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/storagetest"
)

func newLocal(t *testing.T, dir string) storage.Drive {
	t.Helper()
	d, err := local.Open(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The decorator keeps the drive contract, fenced or not.
func TestConformanceFence(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Drive { return fence.Wrap(newLocal(t, t.TempDir()), 0) })
}

func epoch(e uint64) context.Context {
	return storage.WithEpochs(context.Background(), storage.Epoch{Set: 3, Epoch: e})
}

func TestStaleEpochRefusedAndRecordedDurably(t *testing.T) {
	dir := t.TempDir()
	d := fence.Wrap(newLocal(t, dir), 3)
	if err := d.MakeVolume(epoch(5), "bkt"); err != nil {
		t.Fatal(err)
	}
	if err := d.CommitObject(epoch(5), "bkt", "k", []byte("meta5"), "", ""); err != nil {
		t.Fatal(err)
	}
	if err := d.CommitObject(epoch(7), "bkt", "k", []byte("meta7"), "", ""); err != nil {
		t.Fatal(err)
	}
	// The old owner's calls, mutations and reads alike, are refused and change nothing.
	calls := map[string]func(ctx context.Context) error{
		"CommitObject": func(ctx context.Context) error { return d.CommitObject(ctx, "bkt", "k", []byte("meta5b"), "", "") },
		"DeleteObject": func(ctx context.Context) error { return d.DeleteObject(ctx, "bkt", "k") },
		"RenameObject": func(ctx context.Context) error { return d.RenameObject(ctx, "bkt", "k", "k2") },
		"WriteFile":    func(ctx context.Context) error { return d.WriteFile(ctx, "bkt", "f", []byte("x")) },
		"Delete":       func(ctx context.Context) error { return d.Delete(ctx, "bkt", "k", true) },
		"ReadMeta":     func(ctx context.Context) error { _, err := d.ReadMeta(ctx, "bkt", "k"); return err },
	}
	for name, call := range calls {
		if err := call(epoch(5)); !errors.Is(err, storage.ErrStaleEpoch) {
			t.Errorf("%s under epoch 5 after 7: %v, want ErrStaleEpoch", name, err)
		}
	}
	if got, err := d.ReadMeta(context.Background(), "bkt", "k"); err != nil || string(got) != "meta7" {
		t.Fatalf("meta = %q, %v; want meta7", got, err)
	}
	// Another set's epoch and no epoch at all are not fenced by this drive.
	other := storage.WithEpochs(context.Background(), storage.Epoch{Set: 4, Epoch: 1})
	if _, err := d.ReadMeta(other, "bkt", "k"); err != nil {
		t.Fatalf("another set's epoch: %v", err)
	}
	// A new wrapper (a restart) reads the newest epoch back from the drive.
	d2 := fence.Wrap(newLocal(t, dir), 3)
	if n, err := d2.Newest(context.Background()); err != nil || n != 7 {
		t.Fatalf("after reopening: newest %d, %v; want 7", n, err)
	}
	if err := d2.CommitObject(epoch(6), "bkt", "k", []byte("meta6"), "", ""); !errors.Is(err, storage.ErrStaleEpoch) {
		t.Fatalf("epoch 6 after reopening: %v, want ErrStaleEpoch", err)
	}
}

// Once a newer epoch is recorded no older call starts, whatever the interleaving: the last
// commit the drive ran is one of the newer epoch.
func TestRaiseOrdersCalls(t *testing.T) {
	d := fence.Wrap(newLocal(t, t.TempDir()), 3)
	if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		e := uint64(1 + i%2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.CommitObject(epoch(e), "bkt", "k", []byte{byte(e)}, "", "")
			if err != nil && !errors.Is(err, storage.ErrStaleEpoch) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, err := d.ReadMeta(context.Background(), "bkt", "k"); err != nil || got[0] != 2 {
		t.Fatalf("last commit %v, %v: want one of epoch 2", got, err)
	}
	if n, _ := d.Newest(context.Background()); n != 2 {
		t.Fatalf("newest %d, want 2", n)
	}
}

// The version 1 record as a binary of this version wrote it stays readable.
func TestGoldenRecordV1(t *testing.T) {
	b, err := os.ReadFile("testdata/fence-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := fence.Decode(b)
	if err != nil || e != 1234567890123 {
		t.Fatalf("Decode = %d, %v", e, err)
	}
	if got := fence.Encode(e); string(got) != string(b) {
		t.Fatalf("Encode = %s, want %s", got, b)
	}
}

func TestCorruptRecordFailsClosed(t *testing.T) {
	dir := t.TempDir()
	inner := newLocal(t, dir)
	if err := inner.WriteFile(context.Background(), storage.SysVolume, fence.RecordPath, []byte(`{"version":2,"epoch":"9"}`)); err != nil {
		t.Fatal(err)
	}
	d := fence.Wrap(inner, 3)
	if _, err := d.ListVolumes(epoch(100)); !errors.Is(err, storage.ErrFileCorrupt) {
		t.Fatalf("fenced call over a record of an unknown version: %v, want ErrFileCorrupt", err)
	}
	if _, err := d.ListVolumes(context.Background()); err != nil {
		t.Fatalf("unfenced call: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"epoch":"7"}`))
	f.Add([]byte(`{"version":1,"epoch":"18446744073709551615"}`))
	f.Add([]byte(`{"version":1,"epoch":"-1"}`))
	f.Add([]byte(`{"version":1,"epoch":"1"} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := fence.Decode(b)
		if err != nil {
			return
		}
		if e2, err := fence.Decode(fence.Encode(e)); err != nil || e2 != e {
			t.Fatalf("round trip of %d: %d, %v", e, e2, err)
		}
	})
}
