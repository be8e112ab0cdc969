package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
)

// eioDrive fails the reads of the objects whose names contain "bad" with EIO, as a disk
// with a few unreadable sectors does; every other call goes through.
type eioDrive struct {
	storage.Drive
	failed *atomic.Int64 // how many calls failed
}

var errEIO = fmt.Errorf("%w: input/output error", storage.ErrFaulty)

func (d eioDrive) ReadMeta(ctx context.Context, bucket, key string) ([]byte, error) {
	if strings.Contains(key, "bad") {
		d.failed.Add(1)
		return nil, errEIO
	}
	return d.Drive.ReadMeta(ctx, bucket, key)
}

func (d eioDrive) OpenFile(ctx context.Context, volume, path string) (storage.File, error) {
	if strings.Contains(path, "bad") {
		d.failed.Add(1)
		return nil, errEIO
	}
	return d.Drive.OpenFile(ctx, volume, path)
}

// TestEIOOnSomeFiles: one drive of four answers EIO for some objects' files only. Every
// object, on the bad files or not, must read back byte for byte, and writes go on.
func TestEIOOnSomeFiles(t *testing.T) {
	var mu sync.Mutex
	var failed atomic.Int64
	n := 0
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(t.TempDir(), "d{1...4}")},
		Parity: 2,
		WrapDrive: func(sd storage.Drive) storage.Drive {
			mu.Lock()
			defer mu.Unlock()
			if n++; n == 2 {
				return eioDrive{sd, &failed}
			}
			return sd
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	c := context.Background()
	if err := d.MakeBucket(c, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objects := make(map[string][]byte)
	for i, size := range []int{10, 5000, 300 << 10, 3<<20 + 5} {
		for _, prefix := range []string{"good", "bad"} {
			key := fmt.Sprintf("%s/%d", prefix, i)
			objects[key] = randomBytes(size, uint64(i))
			if _, err := d.PutObject(c, "bkt", key, bytes.NewReader(objects[key]), int64(size), objstore.PutOptions{}); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
		}
	}
	for round := range 2 { // the second after health tracking had its say
		for key, want := range objects {
			h, err := d.OpenObject(c, "bkt", key)
			if err != nil {
				t.Fatalf("round %d: open %s: %v", round, key, err)
			}
			got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
			h.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round %d: %s read back wrong (%v)", round, key, err)
			}
		}
	}
	if failed.Load() == 0 {
		t.Fatal("no read met the EIO: the test tested nothing")
	}
}
