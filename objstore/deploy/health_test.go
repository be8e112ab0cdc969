package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
	"github.com/flashstor/flashstor/objstore/storage/health"
)

// TestStalledDriveDoesNotHang stalls every call to one drive of four: the drive must be
// timed out and taken offline, and every operation must complete without it.
func TestStalledDriveDoesNotHang(t *testing.T) {
	for _, fault := range []string{"stall", "eio"} {
		t.Run(fault, func(t *testing.T) {
			var mu sync.Mutex
			var bad *faulty.Drive
			n := 0
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			d, err := deploy.Open(context.Background(), deploy.Config{
				Drives: []string{filepath.Join(t.TempDir(), "d{1...4}")},
				Parity: 2,
				Health: health.Options{Timeout: 2 * time.Second, ProbeInterval: time.Hour},
				WrapDrive: func(sd storage.Drive) storage.Drive {
					mu.Lock()
					defer mu.Unlock()
					f := faulty.Wrap(sd)
					if n == 2 {
						bad = f
					}
					n++
					return f
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.Close)
			// The deadline only catches a hang; nothing here measures speed.
			c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := d.MakeBucket(c, "bkt", objstore.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			if fault == "stall" {
				bad.Stall("*", release)
			} else {
				bad.Fail("*", fmt.Errorf("%w: EIO", storage.ErrFaulty))
			}
			for i, size := range []int{10, 300 << 10, 2 << 20} {
				key := fmt.Sprint("k", i)
				content := randomBytes(size, uint64(i))
				if _, err := d.PutObject(c, "bkt", key, bytes.NewReader(content), int64(size), objstore.PutOptions{}); err != nil {
					t.Fatalf("put with a %s drive: %v", fault, err)
				}
				h, err := d.OpenObject(c, "bkt", key)
				if err != nil {
					t.Fatalf("open with a %s drive: %v", fault, err)
				}
				got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
				h.Close()
				if err != nil || !bytes.Equal(got, content) {
					t.Fatalf("read with a %s drive: %v", fault, err)
				}
			}
			if _, err := d.ListObjects(c, "bkt", objstore.ListOptions{}); err != nil {
				t.Fatalf("list with a %s drive: %v", fault, err)
			}
			if err := d.DeleteObject(c, "bkt", "k0"); err != nil {
				t.Fatalf("delete with a %s drive: %v", fault, err)
			}
			if d.Drives[2].Online() {
				t.Fatalf("the %s drive is still online", fault)
			}
			if info := d.StorageInfo(c); info.OfflineDrives != 1 {
				t.Fatalf("StorageInfo reports %d offline drives, want 1", info.OfflineDrives)
			}
		})
	}
}
