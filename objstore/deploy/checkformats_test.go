package deploy

import (
	"context"
	"fmt"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// TestCheckFormatsLeavesOpenerDrivesAlone: the running format check must not take a drive
// out because no local directory has its argument's name when the drives come from
// Config.OpenDrive (a cluster's other nodes' drives are URLs): it took every remote drive
// out of service at each check, and those it could not reach at once stayed out until the
// next one.
func TestCheckFormatsLeavesOpenerDrivesAlone(t *testing.T) {
	dirs := make(map[string]string)
	var args []string
	for i := range 4 {
		arg := fmt.Sprintf("http://127.0.0.%d:9000/data", i+1)
		dirs[arg] = t.TempDir()
		args = append(args, arg)
	}
	ctx := context.Background()
	dep, err := Open(ctx, Config{Drives: args, Parity: 2, OpenDrive: func(arg string) (storage.Drive, error) {
		d, err := local.Open(dirs[arg], local.Options{})
		return namedDrive{d, arg}, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Close()
	dep.checkFormats(ctx)
	if out := dep.LeftOut(); len(out) != 0 {
		t.Fatalf("the format check took out drives it reads through their opener: %+v", out)
	}
}

// namedDrive is a drive that names itself as its opener's argument, as a remote drive
// names itself by its URL.
type namedDrive struct {
	storage.Drive
	name string
}

func (d namedDrive) String() string { return d.name }
