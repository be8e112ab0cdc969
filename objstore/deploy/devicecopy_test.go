package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// The device-copy test approximates a power cut: the 4 drives live on one journaled ext4,
// loop-mounted from an image file, and a copy of the image taken at some instant holds what
// the file system had sent to its device by then (every write the loop device completed),
// not what was still in its page cache or its running journal transaction. Mounted, the
// copy replays its journal as a file system does after a power loss. A loop device has no
// volatile cache of its own, so the test cannot catch a missing cache flush; it does catch
// a commit that names data or names not yet written out, which is what the one-commit put
// (storage.WithSyncAtCommit) relies on the journal's order for.

// loopImage makes and loop-mounts a journaled ext4 image of 256 MiB, unmounted at the end
// of the test; it skips where that cannot be done (not root, no mkfs.ext4, no loop devices).
func loopImage(t *testing.T) (img, mnt string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loop mounts need root")
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 is not installed")
	}
	dir := t.TempDir()
	img = filepath.Join(dir, "fs.img")
	if out, err := exec.Command("truncate", "-s", "256M", img).CombinedOutput(); err != nil {
		t.Fatalf("truncate: %v %s", err, out)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	return img, mountImage(t, img)
}

// mountImage loop-mounts img on a new directory, unmounted at the end of the test.
func mountImage(t *testing.T, img string) string {
	t.Helper()
	mnt := img + ".mnt"
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount an ext4 image here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	return mnt
}

// copyImage copies the image as its device holds it now.
func copyImage(img, dst string) error {
	src, err := os.Open(img)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestPutSurvivesDeviceCopy puts an object over an older one on a journaled ext4 and
// copies the device at a step of the commit path (after a given number of drives passed
// it) and once the put has returned; each copy, mounted, must read the old object or the
// new one, and the copy taken after the put returned must read the new one. Objects of
// 2 MiB have buffered shard files; those of 9 MiB have shard files of more than 4 MiB,
// written with O_DIRECT but for their unaligned tail.
func TestPutSurvivesDeviceCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("loop mounts skipped in -short")
	}
	const small, large = 2<<20 + 5, 9<<20 + 5 // not inline; shards buffered, direct
	for _, c := range []struct {
		size  int
		step  string
		after int
	}{
		{small, "create:sync", 2},
		{small, "commit:rename-data", 0},
		{small, "commit:rename-data", 3},
		{small, "commit:write-meta", 2},
		{small, "commit:rename-meta", 1},
		{small, "commit:rename-meta", 3},
		{large, "create:sync", 2},
		{large, "commit:rename-data", 3},
		{large, "commit:rename-meta", 1},
	} {
		t.Run(fmt.Sprintf("%d/%s/after%d", c.size, c.step, c.after), func(t *testing.T) {
			deviceCopyCase(t, c.size, c.step, c.after, false)
		})
	}
}

// TestRedoLogSurvivesDeviceCopy is TestPutSurvivesDeviceCopy for a small object on drives
// with redo logs: its commit is a record synced to the log, then the metadata file written
// without a sync, so the copy taken after the put returned may hold the record alone; the
// drives of the copy, opened, redo it.
func TestRedoLogSurvivesDeviceCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("loop mounts skipped in -short")
	}
	for _, c := range []struct {
		step  string
		after int
	}{{"commit:write-meta", 2}, {"commit:rename-meta", 0}, {"commit:rename-meta", 2}, {"commit:rename-meta", 3}} {
		t.Run(fmt.Sprintf("%s/after%d", c.step, c.after), func(t *testing.T) {
			deviceCopyCase(t, 1000, c.step, c.after, true)
		})
	}
}

func deviceCopyCase(t *testing.T, size int, step string, after int, redo bool) {
	c := context.Background()
	old, newContent := randomBytes(size+1, 1), randomBytes(size, 2)
	put := func(d *deploy.Deployment, b []byte) error {
		_, err := d.PutObject(c, "crash", "key", bytes.NewReader(b), int64(len(b)), objstore.PutOptions{})
		return err
	}
	deviceCopyRun(t, step, after, redo, func(d *deploy.Deployment) error {
		if err := d.MakeBucket(c, "crash", objstore.MakeBucketOptions{}); err != nil {
			return err
		}
		return put(d, old)
	}, func(d *deploy.Deployment) error { return put(d, newContent) },
		func(d *deploy.Deployment, returned bool, when string) {
			switch got := readKey(t, d); {
			case bytes.Equal(got, newContent):
			case bytes.Equal(got, old) && !returned:
			case bytes.Equal(got, old):
				t.Fatalf("the copy taken %s reads the old object", when)
			default:
				t.Fatalf("the copy taken %s reads %d bytes, neither the old object nor the new", when, len(got))
			}
		})
}

// deviceCopyRun runs op on 4 drives (2+2, with redo logs when redo) of a journaled ext4
// image, after prepare. The device is copied when after drives have passed the failpoint
// step during op, and once op has returned; each copy is mounted, its drives opened, and
// check called on them, with returned true for the copy taken after op returned, and when
// saying which copy it is.
func deviceCopyRun(t *testing.T, step string, after int, redo bool, prepare, op func(*deploy.Deployment) error,
	check func(d *deploy.Deployment, returned bool, when string)) {
	t.Helper()
	img, mnt := loopImage(t)
	var (
		arm     atomic.Bool
		passed  atomic.Int32
		once    sync.Once
		copyErr error // copyImage's during op, set once
	)
	mid := img + ".mid"
	cfg := deploy.Config{
		Drives: []string{filepath.Join(mnt, "d{1...4}")},
		Parity: 2,
		DriveOptions: local.Options{Failpoint: func(s string) error {
			if arm.Load() && s == step && int(passed.Add(1)) > after {
				// On a drive's goroutine: the drive waits while the device is copied, the
				// others go on, so the copy is the device at some instant of op.
				once.Do(func() { copyErr = copyImage(img, mid) })
			}
			return nil
		}, RedoLog: redo},
	}
	c := context.Background()
	d, err := deploy.Open(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := prepare(d); err != nil {
		t.Fatal(err)
	}
	arm.Store(true)
	if err := op(d); err != nil {
		t.Fatal(err)
	}
	acked := img + ".acked"
	if err := copyImage(img, acked); err != nil {
		t.Fatal(err)
	}
	d.Close() // before the cleanup unmounts the file system
	if copyErr != nil {
		t.Fatal(copyErr)
	}
	if _, err := os.Stat(mid); err != nil {
		t.Fatalf("the operation never reached step %s after %d drives: %v", step, after, err)
	}
	for _, cp := range []struct {
		img      string
		returned bool
		when     string
	}{{mid, false, "during the operation"}, {acked, true, "after the operation returned"}} {
		m := mountImage(t, cp.img)
		d, err := deploy.Open(c, deploy.Config{Drives: []string{filepath.Join(m, "d{1...4}")}, Parity: 2,
			DriveOptions: local.Options{RedoLog: redo}})
		if err != nil {
			t.Fatalf("opening the drives of the copy taken %s: %v", cp.when, err)
		}
		check(d, cp.returned, cp.when)
		d.Close()
	}
}

// TestSyncDrivesSurvivesDeviceCopy puts objects without their syncs (as the mount's fsync
// mode commits) on 4 drives of one journaled ext4, then calls SyncDrives, whose drives
// share one syncfs there (local.CommitGroups): a copy of the device taken then holds every
// object's metadata on every drive, and reads every object back.
func TestSyncDrivesSurvivesDeviceCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("loop mounts skipped in -short")
	}
	for _, redo := range []bool{false, true} {
		t.Run(fmt.Sprintf("redo=%v", redo), func(t *testing.T) {
			c := context.Background()
			img, mnt := loopImage(t)
			d, err := deploy.Open(c, deploy.Config{Drives: []string{filepath.Join(mnt, "d{1...4}")}, Parity: 2,
				DriveOptions: local.Options{RedoLog: redo}})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.MakeBucket(c, "crash", objstore.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			contents := map[string][]byte{"large": randomBytes(2<<20+5, 100)}
			for i := range 20 {
				contents[fmt.Sprintf("small/%d", i)] = randomBytes(1000+i, uint64(i))
			}
			deferred := objstore.WithDeferredSync(c)
			for key, b := range contents {
				if _, err := d.PutObject(deferred, "crash", key, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.SyncDrives(c); err != nil {
				t.Fatal(err)
			}
			synced := img + ".synced"
			if err := copyImage(img, synced); err != nil {
				t.Fatal(err)
			}
			d.Close()
			m := mountImage(t, synced)
			for i := 1; i <= 4; i++ {
				drive, err := local.Open(filepath.Join(m, fmt.Sprintf("d%d", i)), local.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for key := range contents {
					if _, err := drive.ReadMeta(c, "crash", key); err != nil {
						t.Errorf("the copy's drive %d: %s: %v", i, key, err)
					}
				}
				drive.Close()
			}
			copied, err := deploy.Open(c, deploy.Config{Drives: []string{filepath.Join(m, "d{1...4}")}, Parity: 2,
				DriveOptions: local.Options{RedoLog: redo}})
			if err != nil {
				t.Fatal(err)
			}
			defer copied.Close()
			for key, want := range contents {
				if got := readObject(t, copied, key); !bytes.Equal(got, want) {
					t.Fatalf("the copy: %s reads %d bytes, not the object put", key, len(got))
				}
			}
		})
	}
}
