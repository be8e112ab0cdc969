package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
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
	c := context.Background()
	content := randomBytes(1000, 3)
	deviceCopyRun(t, "rename:logged", after, true, func(d *deploy.Deployment) error {
		if err := d.MakeBucket(c, "bkt", objstore.MakeBucketOptions{}); err != nil {
			return err
		}
		_, err := d.PutObject(c, "bkt", renameSrc, bytes.NewReader(content), int64(len(content)), objstore.PutOptions{})
		return err
	}, func(d *deploy.Deployment) error {
		_, err := d.RenameObject(c, "bkt", renameSrc, renameDst, objstore.RenameOptions{})
		return err
	}, func(d *deploy.Deployment, returned bool, when string) {
		if got := checkRenamed(t, d, content, nil); returned && got != renameDst {
			t.Fatalf("the copy taken %s holds the object at %s", when, got)
		}
	})
}
