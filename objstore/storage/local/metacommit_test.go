package local

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/storagetest"
)

// loopExt4 makes an ext4 file system of 256 MiB with mkfs's extra options, loop-mounts it
// and returns its mount point, unmounted at the end of the test. It skips when that cannot
// be done here (not root, no mkfs.ext4, no loop devices).
func loopExt4(t *testing.T, mkfsOpts ...string) string {
	t.Helper()
	return loopExt4Mounted(t, "loop", nil, mkfsOpts...)
}

// loopExt4Mounted is loopExt4 mounted with the options mountOpts (which include "loop"),
// tuned first with tune2fs and the arguments tune when there are any.
func loopExt4Mounted(t *testing.T, mountOpts string, tune []string, mkfsOpts ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loop mounts need root")
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 is not installed")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(256 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	args := append([]string{"-q", "-F"}, mkfsOpts...)
	if out, err := exec.Command("mkfs.ext4", append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	if len(tune) > 0 {
		if out, err := exec.Command("tune2fs", append(tune, img)...).CombinedOutput(); err != nil {
			t.Fatalf("tune2fs: %v %s", err, out)
		}
	}
	if out, err := exec.Command("mount", "-o", mountOpts, img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount an ext4 image here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	return mnt
}

// TestOneCommitChosenByJournal checks that the one-commit metadata write is used exactly on
// ext4 with a journal, and that a drive using it passes the drive conformance suite.
func TestOneCommitChosenByJournal(t *testing.T) {
	journaled := loopExt4(t)
	plain := loopExt4(t, "-O", "^has_journal")
	if !oneCommitFS(journaled) {
		t.Errorf("ext4 with a journal: oneCommitFS = false, want true")
	}
	if oneCommitFS(plain) {
		t.Errorf("ext4 without a journal: oneCommitFS = true, want false")
	}
	if tmpfs := "/dev/shm"; oneCommitFS(tmpfs) {
		t.Errorf("%s: oneCommitFS = true, want false", tmpfs)
	}
	n := 0
	// The drives share their journal commits, as a deployment's do.
	commits := NewCommitGroups()
	var first *commitGroup
	storagetest.Run(t, func(t *testing.T) storage.Drive {
		n++
		d, err := Open(filepath.Join(journaled, fmt.Sprintf("d%d", n)), Options{Commits: commits})
		if err != nil {
			t.Fatal(err)
		}
		if !d.oneCommit {
			t.Fatal("drive on journaled ext4 does not use the one-commit write")
		}
		if first == nil {
			first = d.group
		}
		if d.group == nil || d.group != first {
			t.Fatalf("drive %d on the same file system: commit group %p, want %p", n, d.group, first)
		}
		return d
	})
}
