package fusefs

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv names the mount point for TestStaleHelper, which then runs as a child process.
const helperEnv = "FLASHSTOR_FUSE_STALE_HELPER"

// TestStaleHelper is not a test: run by TestCleanStale as a child process, it mounts, says
// so, and waits (at most a minute) to be killed, leaving a dead mount behind.
func TestStaleHelper(t *testing.T) {
	mnt := os.Getenv(helperEnv)
	if mnt == "" {
		t.Skip("child process of TestCleanStale")
	}
	l := newLayer(t, 1)
	if _, err := Mount(mnt, l, Options{}); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("mounted\n")
	time.Sleep(time.Minute)
}

// TestCleanStale kills a process that has a mount, finds the dead mount (ENOTCONN), cleans
// it, and mounts again at the same place.
func TestCleanStale(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	mnt := t.TempDir()
	if cleaned, err := CleanStale(mnt); cleaned || err != nil {
		t.Fatalf("CleanStale of a plain directory: %v %v", cleaned, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStaleHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mnt)
	out, err := cmd.StdoutPipe()
	must(t, "pipe", err)
	must(t, "start helper", cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		syscall.Unmount(mnt, syscall.MNT_DETACH)
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "mounted" {
		t.Fatalf("helper: %q %v", line, err)
	}
	must(t, "kill helper", cmd.Process.Kill())
	cmd.Wait()

	if _, err := os.ReadDir(mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("listing a dead mount: %v, want ENOTCONN", err)
	}
	cleaned, err := CleanStale(mnt)
	if !cleaned || err != nil {
		t.Fatalf("CleanStale of a dead mount: %v %v", cleaned, err)
	}
	if _, err := os.ReadDir(mnt); err != nil {
		t.Fatalf("listing after CleanStale: %v", err)
	}
	_, dir := setupAt(t, mnt)
	must(t, "write through the new mount", os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644))
	// A live mount is left alone.
	if cleaned, err := CleanStale(mnt); cleaned || err != nil {
		t.Fatalf("CleanStale of a live mount: %v %v", cleaned, err)
	}
}

// TestUnmountAfterExternalUmount: a mount unmounted from outside (umount, fusermount3 -u)
// is released by Unmount all the same, its staging directory removed; before, Unmount
// failed (not mounted) and the server's stop left the directory in $TMPDIR.
func TestUnmountAfterExternalUmount(t *testing.T) {
	mnt, srv := mountServer(t, newLayer(t, 1), Options{})
	staging := srv.fsys.staging
	if _, err := os.Stat(staging); err != nil {
		t.Fatalf("the mount's staging directory: %v", err)
	}
	if err := syscall.Unmount(mnt, 0); err != nil {
		t.Fatalf("umount from outside: %v", err)
	}
	if err := srv.Unmount(); err != nil {
		t.Fatalf("Unmount after an umount from outside: %v", err)
	}
	if _, err := os.Stat(staging); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the staging directory %s is still there (%v)", staging, err)
	}
}

// TestStagingOfDeadMountsRemoved: a mount removes, from its staging base, the staging
// directories whose lock no one holds (their mounts' processes are gone), and leaves
// those of live mounts and those without a lock file (an older version's) alone.
func TestStagingOfDeadMountsRemoved(t *testing.T) {
	base := t.TempDir()
	mkStaging := func(name string, withLock bool) string {
		dir := filepath.Join(base, stagingPrefix+name)
		must(t, "mkdir", os.Mkdir(dir, 0o700))
		must(t, "staged file", os.WriteFile(filepath.Join(dir, "stage-1"), []byte("x"), 0o600))
		if withLock {
			must(t, "lock file", os.WriteFile(filepath.Join(dir, stagingLockFile), nil, 0o600))
		}
		return dir
	}
	dead, live, old := mkStaging("dead", true), mkStaging("live", true), mkStaging("old", false)
	held, err := os.Open(filepath.Join(live, stagingLockFile))
	must(t, "open the live lock", err)
	defer held.Close()
	must(t, "hold the live lock", syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))

	_, srv := mountServer(t, newLayer(t, 1), Options{StagingDir: base})
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dead mount's staging directory is still there (%v)", err)
	}
	for _, dir := range []string{live, old} {
		if _, err := os.Stat(filepath.Join(dir, "stage-1")); err != nil {
			t.Errorf("%s: %v, want it left alone", dir, err)
		}
	}
	own := srv.fsys.staging
	if _, err := os.Stat(filepath.Join(own, stagingLockFile)); err != nil {
		t.Fatalf("the mount's own lock file: %v", err)
	}
	// A second mount's sweep leaves the first, which holds its lock, alone.
	_, srv2 := mountServer(t, newLayer(t, 1), Options{StagingDir: base})
	if _, err := os.Stat(own); err != nil {
		t.Fatalf("a live mount's staging directory was removed by another mount: %v", err)
	}
	must(t, "unmount", srv2.Unmount())
	must(t, "unmount", srv.Unmount())
	if _, err := os.Stat(own); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the staging directory %s outlives its unmount (%v)", own, err)
	}
}
