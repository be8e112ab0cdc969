package fusefs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// TestVersionedBucketMount: the mount of a versioned bucket shows each key's latest
// version; an overwrite through the mount keeps the old version; rm makes a delete marker
// (the versions stay, S3 sees the marker); a version under retention cannot be removed
// for good through S3, and a null version on legal hold cannot be overwritten through the
// mount (EPERM).
func TestVersionedBucketMount(t *testing.T) {
	ctx := context.Background()
	l, dir := setup(t, 4)
	vl := l.(objstore.VersionedLayer)
	configs := l.(objstore.BucketConfigStore)
	if err := configs.SetBucketConfig(ctx, testBucket, objstore.BucketConfigVersioning, "Enabled"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "f")
	for _, body := range []string{"one", "two"} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "two" {
		t.Fatalf("read: %q, %v", b, err)
	}
	res, err := vl.ListObjectVersions(ctx, testBucket, objstore.ListVersionsOptions{})
	if err != nil || len(res.Versions) < 2 {
		t.Fatalf("versions after two writes through the mount: %+v, %v", res.Versions, err)
	}
	first := res.Versions[len(res.Versions)-1].Version.VersionID

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat after rm: %v", err)
	}
	var dm *objstore.DeleteMarkerError
	if _, err := l.StatObject(ctx, testBucket, "f"); !errors.As(err, &dm) {
		t.Fatalf("S3 view after rm: %v, want a delete marker", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("directory after rm: %v, %v", entries, err)
	}
	// The old version is still there, and restoring it shows it in the mount.
	if _, err := l.CopyObject(ctx, objstore.ObjectRef{Bucket: testBucket, Key: "f"}, objstore.ObjectRef{Bucket: testBucket, Key: "f"},
		objstore.CopyOptions{SrcVersionID: first}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "one" {
		t.Fatalf("read after restore: %q, %v", b, err)
	}
	// Coherence with S3-side writes of versions: a new version written through the layer
	// shows at once, and removing it by id brings the previous one back into the mount.
	three, err := l.PutObject(ctx, testBucket, "f", strings.NewReader("three!"), 6, objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "three!" {
		t.Fatalf("read after a new version through the layer: %q, %v", b, err)
	}
	if _, err := vl.DeleteVersion(ctx, testBucket, "f", objstore.DeleteOptions{VersionID: three.Version.VersionID}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "one" {
		t.Fatalf("read after removing the latest version by id: %q, %v", b, err)
	}

	// A suspended bucket writes the null version; on legal hold, it cannot be replaced.
	if err := configs.SetBucketConfig(ctx, testBucket, objstore.BucketConfigVersioning, "Suspended"); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(dir, "held")
	if _, err := l.PutObject(ctx, testBucket, "held", nil, 0, objstore.PutOptions{Lock: objstore.ObjectLock{LegalHold: true}}); err != nil {
		t.Fatal(err)
	}
	err = os.WriteFile(held, []byte("new"), 0o644)
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("overwriting a null version on legal hold: %v, want EPERM", err)
	}
	if _, err := vl.SetObjectLock(ctx, testBucket, "held", "null", objstore.LockUpdate{Retention: &objstore.ObjectLock{Mode: objstore.RetentionCompliance, RetainUntil: time.Now().Add(time.Hour)}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := vl.DeleteVersion(ctx, testBucket, "held", objstore.DeleteOptions{VersionID: "null", BypassGovernance: true}); !errors.Is(err, objstore.ErrObjectLocked) {
		t.Fatalf("deleting a version under compliance: %v", err)
	}
}
