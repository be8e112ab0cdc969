package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// TestFormatCheckOpenDrive: the running format check of a deployment whose drives
// Config.OpenDrive opens (a cluster node's, named by URLs that are no directory here)
// leaves every healthy drive in service. It used to take each for a missing directory,
// and so every drive of a cluster node out of service at every check.
func TestFormatCheckOpenDrive(t *testing.T) {
	dir := t.TempDir()
	paths := map[string]string{}
	var args []string
	for i := range 4 {
		arg := fmt.Sprintf("http://127.0.0.%d:9000/e%d", i+1, i)
		args = append(args, arg)
		paths[arg] = filepath.Join(dir, fmt.Sprint("drive", i))
		if err := os.Mkdir(paths[arg], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	dep, err := Open(ctx, Config{Drives: args, Parity: -1, OpenDrive: func(arg string) (storage.Drive, error) {
		d, err := local.Open(paths[arg], local.Options{})
		if err != nil {
			return nil, err
		}
		return named{d, arg}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Close()
	if out := dep.LeftOut(); len(out) != 0 {
		t.Fatalf("drives out after the open: %+v", out)
	}
	dep.checkFormats(ctx)
	if out := dep.LeftOut(); len(out) != 0 {
		t.Fatalf("drives taken out by the format check: %+v", out)
	}
}

// named is a drive that names itself as a remote drive does: by a URL.
type named struct {
	storage.Drive
	name string
}

func (n named) String() string { return n.name }
