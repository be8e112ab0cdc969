package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// TestFormatCheckOpenDrive: the running format check of a deployment whose drives
// Config.OpenDrive opens (a cluster node's) leaves in service the drives named by a URL (a
// remote drive: no directory here), and still takes out a drive named by its directory
// once that directory is gone. It used to take every URL for a missing directory, and so
// every remote drive of a cluster node out of service at every check.
func TestFormatCheckOpenDrive(t *testing.T) {
	dir := t.TempDir()
	paths := map[string]string{}
	var args []string
	for i := range 4 {
		path := filepath.Join(dir, fmt.Sprint("drive", i))
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		arg := path // drive 0 is this node's own, named by its directory
		if i > 0 {
			arg = fmt.Sprintf("http://127.0.0.%d:9000/e%d", i+1, i)
		}
		args = append(args, arg)
		paths[arg] = path
	}
	ctx := context.Background()
	dep, err := Open(ctx, Config{Drives: args, Parity: -1, Log: slog.New(slog.DiscardHandler), OpenDrive: func(arg string) (storage.Drive, error) {
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
	dep.checkFormats(ctx)
	if out := dep.LeftOut(); len(out) != 0 {
		t.Fatalf("drives taken out by the format check: %+v", out)
	}
	if err := os.Rename(args[0], args[0]+".unmounted"); err != nil {
		t.Fatal(err)
	}
	dep.checkFormats(ctx)
	out := dep.LeftOut()
	if len(out) != 1 || out[0].Drive != args[0] || out[0].Reason != format.ReasonReadFailed {
		t.Fatalf("drives out with drive 0's directory gone: %+v; want drive 0 alone, read_failed", out)
	}
}

// named is a drive that names itself as its opener named it: a remote drive by its URL.
type named struct {
	storage.Drive
	name string
}

func (n named) String() string { return n.name }
