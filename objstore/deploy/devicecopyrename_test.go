package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// TestRedoLogRenameSurvivesDeviceCopy is TestRedoLogSurvivesDeviceCopy for a rename of a
// small object on drives with redo logs: a drive's rename is a record synced to its log,
// then the tree's rename without syncs. The device is copied when a given number of
// drives have synced their record (failpoint rename:logged) and once the rename has
// returned; each copy, opened, must hold the object under exactly one of the two keys,
// and the copy taken after the rename returned under the new one.
func TestRedoLogRenameSurvivesDeviceCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("loop mounts skipped in -short")
	}
	for _, after := range []int{0, 2} {
		t.Run(fmt.Sprintf("rename:logged/after%d", after), func(t *testing.T) {
			renameDeviceCopyCase(t, after)
		})
	}
}

func renameDeviceCopyCase(t *testing.T, after int) {
	img, mnt := loopImage(t)
	content := randomBytes(1000, 3)
	var (
		arm     atomic.Bool
		passed  atomic.Int32
		once    sync.Once
		copyErr error // copyImage's during the rename, set once
	)
	mid := img + ".mid"
	cfg := deploy.Config{
		Drives: []string{filepath.Join(mnt, "d{1...4}")},
		Parity: 2,
		DriveOptions: local.Options{Failpoint: func(s string) error {
			if arm.Load() && s == "rename:logged" && int(passed.Add(1)) > after {
				once.Do(func() { copyErr = copyImage(img, mid) })
			}
			return nil
		}, RedoLog: true},
	}
	c := context.Background()
	d, err := deploy.Open(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.MakeBucket(c, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutObject(c, "bkt", renameSrc, bytes.NewReader(content), int64(len(content)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	arm.Store(true)
	if _, err := d.RenameObject(c, "bkt", renameSrc, renameDst, objstore.RenameOptions{}); err != nil {
		t.Fatal(err)
	}
	acked := img + ".acked"
	if err := copyImage(img, acked); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if copyErr != nil {
		t.Fatal(copyErr)
	}
	if _, err := os.Stat(mid); err != nil {
		t.Fatalf("the rename never reached rename:logged after %d drives: %v", after, err)
	}
	for _, cp := range []struct {
		img        string
		mustBeNew  bool
		whichPoint string
	}{{mid, false, "during the rename"}, {acked, true, "after the rename returned"}} {
		m := mountImage(t, cp.img)
		d, err := deploy.Open(c, deploy.Config{Drives: []string{filepath.Join(m, "d{1...4}")}, Parity: 2,
			DriveOptions: local.Options{RedoLog: true}})
		if err != nil {
			t.Fatalf("opening the drives of the copy taken %s: %v", cp.whichPoint, err)
		}
		got := checkRenamed(t, d, content, nil)
		d.Close()
		if cp.mustBeNew && got != renameDst {
			t.Fatalf("the copy taken %s holds the object at %s", cp.whichPoint, got)
		}
	}
}
