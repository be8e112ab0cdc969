package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
	"github.com/flashstor/flashstor/objstore/storage/health"
)

// TestFailedUnlinkKeepsFile: an unlink that the core refuses (its delete below write
// quorum: two of four drives read-only) fails with EIO and leaves the file as it was, name
// and all; the writes made through that name afterwards are committed like any other, so
// that S3 and the mount read them back. (Found by the chaos soak: the file stayed marked
// removed, so every later close of it was acknowledged without a commit, and reads then
// showed the old object, cut to the new size.) Small files go whole in one put, large ones
// through the staging file: both are checked.
func TestFailedUnlinkKeepsFile(t *testing.T) {
	d, drives := faultyDeployment(t)
	ctx := context.Background()
	dir := filepath.Join(mountLayer(t, d, Options{}), testBucket)
	for _, size := range []int{100, streamThreshold + 4096} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			name := fmt.Sprintf("f%d", size)
			path := filepath.Join(dir, name)
			before, after := pattern(size, 1), pattern(size+333, 2)
			must(t, "write", os.WriteFile(path, before, 0o644))
			for _, f := range drives[:2] {
				f.Fail("DeleteObject", fmt.Errorf("%w: read-only file system", storage.ErrFaulty))
			}
			err := os.Remove(path)
			for _, f := range drives[:2] {
				f.Clear()
			}
			wantErrno(t, "unlink below write quorum", err, syscall.EIO)
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, before) {
				t.Fatalf("after the failed unlink: %d bytes, %v; want the %d written", len(got), err, len(before))
			}
			must(t, "write after the failed unlink", os.WriteFile(path, after, 0o644))
			if got, _ := getObject(t, d, name); !bytes.Equal(got, after) {
				t.Fatalf("the core holds %d bytes, not the %d written after the failed unlink", len(got), len(after))
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, after) {
				t.Fatalf("the mount reads %d bytes (%v), not the %d written after the failed unlink", len(got), err, len(after))
			}
			must(t, "unlink", os.Remove(path))
			if _, err := d.StatObject(ctx, testBucket, name); err == nil {
				t.Fatal("the object is still there after the unlink")
			}
		})
	}
}

// faultyDeployment opens a 2+2 deployment whose drives are wrapped for fault injection,
// with the test bucket made, and returns it with its drives in order. Failing calls must
// not take the drives offline (the point is the core's answer), hence the long health
// timeout and probe interval.
func faultyDeployment(t *testing.T) (*deploy.Deployment, []*faulty.Drive) {
	t.Helper()
	var mu sync.Mutex
	var drives []*faulty.Drive
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(t.TempDir(), "d{1...4}")},
		Parity: 2,
		Health: health.Options{Timeout: 10 * time.Second, ProbeInterval: time.Hour},
		WrapDrive: func(sd storage.Drive) storage.Drive {
			mu.Lock()
			defer mu.Unlock()
			f := faulty.Wrap(sd)
			drives = append(drives, f)
			return f
		},
	})
	must(t, "deploy.Open", err)
	t.Cleanup(func() { d.Close() })
	must(t, "MakeBucket", d.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	return d, drives
}
