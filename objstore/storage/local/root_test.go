package local_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// TestRootNeverCreated removes a drive's directory under an open drive, as when its disk is
// unmounted while the server runs: no write may create the directory again (that would put
// the drive's data on the file system below), each must fail as a drive fault.
func TestRootNeverCreated(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "disk")
	d, err := local.Open(root, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	writes := map[string]func() error{
		"CreateFile": func() error {
			return d.CreateFile(ctx, "bkt", "a/b/part.1", 3, bytes.NewReader([]byte("abc")))
		},
		"WriteFile":   func() error { return d.WriteFile(ctx, "bkt", "x/y", []byte("abc")) },
		"WriteFormat": func() error { return d.WriteFormat(ctx, []byte("{}")) },
		"MakeVolume":  func() error { return d.MakeVolume(ctx, "other") },
	}
	for name, write := range writes {
		err := write()
		if err == nil {
			t.Errorf("%s on a drive whose directory is gone succeeded", name)
		} else if !storage.IsDriveFault(err) && !errors.Is(err, storage.ErrFileNotFound) && !errors.Is(err, storage.ErrVolumeNotFound) {
			t.Errorf("%s: %v, want a drive fault or a missing volume", name, err)
		}
		if _, err := os.Stat(root); err == nil {
			t.Fatalf("%s created the drive's directory again", name)
		}
	}
}
