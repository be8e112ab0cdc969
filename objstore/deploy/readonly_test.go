package deploy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDriveReadOnlyWhileRunning remounts a drive's file system read-only under a running
// deployment (what the kernel does to a file system after an I/O error): writes, overwrites
// and deletes go on at write quorum with the other three, every object reads back right
// meanwhile, and once the file system is writable again healing brings the drive up to
// date: the objects written while it was read-only are on it, the ones deleted meanwhile
// are gone from it, and with two other drives wiped everything reads back byte for byte.
func TestDriveReadOnlyWhileRunning(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a tmpfs: needs root")
	}
	dir := t.TempDir()
	ro := filepath.Join(dir, "d2")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", ro, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatalf("mounting a tmpfs drive: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(ro, unix.MNT_DETACH) })
	f := newFixtureIn(t, dir, 4, 2)
	t.Cleanup(f.d.Close)
	stop := f.runHealing()
	remount := func(flags uintptr) {
		t.Helper()
		if err := unix.Mount("", ro, "", unix.MS_REMOUNT|flags, ""); err != nil {
			t.Fatalf("remounting %s: %v", ro, err)
		}
	}
	remount(unix.MS_RDONLY)
	for i := 0; i < 4; i++ {
		f.put(fmt.Sprint("while-read-only/", i), []int{0, 100, 200 << 10, 1<<20 + 5}[i], uint64(200+i))
	}
	f.put("obj/4-1048576", 1<<20, 300) // an overwrite: the read-only drive keeps the old one
	deleted := "obj/1-1"
	if err := f.d.DeleteObject(context.Background(), faultBucket, deleted); err != nil {
		t.Fatalf("delete with a drive read-only: %v", err)
	}
	delete(f.objects, deleted)
	f.checkAll("with drive 2 read-only")
	remount(0)
	stop()
	f.healAll()
	if _, err := os.Stat(f.metaPath(1, deleted)); err == nil {
		t.Errorf("%s, deleted while drive 2 was read-only, is still on it after the heal", deleted)
	}
	for i := 0; i < 4; i++ {
		if _, err := os.Stat(f.metaPath(1, fmt.Sprint("while-read-only/", i))); err != nil {
			t.Errorf("written while drive 2 was read-only, not on it after the heal: %v", err)
		}
	}
	f.checkHealed(func() {}, 1)
}
